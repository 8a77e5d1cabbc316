//! What the guard lets through, per dialect. Everything not listed here is refused.
//!
//! Functions are listed when they only compute a value from their arguments (aggregates, window
//! functions, math, strings, date and time, JSON accessors, conditionals). Functions that touch
//! files, the network, locks, sequences, large objects, settings, sessions or other backends, or
//! that run SQL given as a string, are left out on purpose, as are functions that merely reveal
//! server internals.

/// Functions that only compute a value, common to the three dialects.
const COMMON_FUNCTIONS: &[&str] = &[
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    // window functions
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // math
    "abs",
    "ceil",
    "ceiling",
    "floor",
    "round",
    "sign",
    "sqrt",
    "power",
    "pow",
    "exp",
    "ln",
    "log",
    "log10",
    "mod",
    "pi",
    "degrees",
    "radians",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    // strings
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "concat",
    "concat_ws",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    // conditionals
    "coalesce",
    "nullif",
];

const POSTGRES_FUNCTIONS: &[&str] = &[
    // aggregates
    "bool_and",
    "bool_or",
    "every",
    "string_agg",
    "array_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "corr",
    "covar_pop",
    "covar_samp",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "bit_and",
    "bit_or",
    "any_value",
    // math
    "trunc",
    "cbrt",
    "div",
    "width_bucket",
    "gcd",
    "lcm",
    "scale",
    "random",
    // strings
    "initcap",
    "bit_length",
    "left",
    "right",
    "lpad",
    "rpad",
    "btrim",
    "reverse",
    "repeat",
    "split_part",
    "strpos",
    "position",
    "starts_with",
    "format",
    "to_char",
    "to_number",
    "to_date",
    "to_timestamp",
    "md5",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "ascii",
    "chr",
    "translate",
    "regexp_replace",
    "regexp_match",
    "regexp_matches",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "regexp_like",
    "regexp_count",
    "regexp_substr",
    "regexp_instr",
    "string_to_array",
    "string_to_table",
    "array_to_string",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "encode",
    "decode",
    "overlay",
    "normalize",
    "is_normalized",
    "similar_to_escape",
    // date and time
    "now",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "date_trunc",
    "date_part",
    "extract",
    "age",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "date_bin",
    "isfinite",
    "timezone",
    "overlaps",
    // json
    "to_json",
    "to_jsonb",
    "row_to_json",
    "array_to_json",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "json_extract_path",
    "json_extract_path_text",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "json_array_length",
    "jsonb_array_length",
    "json_typeof",
    "jsonb_typeof",
    "json_object_keys",
    "jsonb_object_keys",
    "json_each",
    "jsonb_each",
    "json_each_text",
    "jsonb_each_text",
    "json_array_elements",
    "jsonb_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements_text",
    "json_strip_nulls",
    "jsonb_strip_nulls",
    "jsonb_pretty",
    "jsonb_set",
    "jsonb_insert",
    "jsonb_path_exists",
    "jsonb_path_match",
    "jsonb_path_query",
    "jsonb_path_query_array",
    "jsonb_path_query_first",
    // arrays
    "array_length",
    "array_position",
    "array_positions",
    "array_remove",
    "array_replace",
    "array_append",
    "array_prepend",
    "array_cat",
    "array_dims",
    "array_lower",
    "array_upper",
    "array_ndims",
    "cardinality",
    "unnest",
    // set-returning and misc
    "generate_series",
    "num_nonnulls",
    "num_nulls",
    "gen_random_uuid",
    "to_tsvector",
    "to_tsquery",
    "plainto_tsquery",
    "phraseto_tsquery",
    "websearch_to_tsquery",
    "ts_rank",
    "ts_rank_cd",
    "ts_headline",
    // Reads a setting; it cannot change one (set_config can and is not listed). Allowed so that
    // a caller can see e.g. `transaction_read_only`; settings are readable with SHOW anyway.
    "current_setting",
    "pg_typeof",
];

/// Functions allowed as `FROM` items in PostgreSQL (set-returning, no side effects).
const POSTGRES_TABLE_FUNCTIONS: &[&str] = &[
    "generate_series",
    "unnest",
    "json_each",
    "jsonb_each",
    "json_each_text",
    "jsonb_each_text",
    "json_array_elements",
    "jsonb_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements_text",
    "json_object_keys",
    "jsonb_object_keys",
    "regexp_matches",
    "regexp_split_to_table",
    "string_to_table",
    "jsonb_path_query",
];

const MYSQL_FUNCTIONS: &[&str] = &[
    // aggregates
    "group_concat",
    "bit_and",
    "bit_or",
    "bit_xor",
    "std",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "json_arrayagg",
    "json_objectagg",
    "any_value",
    // math
    "truncate",
    "log2",
    "cot",
    "rand",
    "greatest",
    "least",
    "conv",
    "bin",
    "oct",
    "crc32",
    // strings
    "bit_length",
    "lcase",
    "ucase",
    "left",
    "right",
    "lpad",
    "rpad",
    "reverse",
    "repeat",
    "space",
    "substring_index",
    "locate",
    "instr",
    "position",
    "strcmp",
    "format",
    "hex",
    "unhex",
    "ascii",
    "ord",
    "field",
    "find_in_set",
    "elt",
    "md5",
    "sha1",
    "sha2",
    "to_base64",
    "from_base64",
    "quote",
    "soundex",
    "regexp_like",
    "regexp_replace",
    "regexp_substr",
    "regexp_instr",
    // date and time
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "curdate",
    "curtime",
    "utc_date",
    "utc_time",
    "utc_timestamp",
    "date",
    "time",
    "year",
    "month",
    "day",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "week",
    "weekday",
    "weekofyear",
    "yearweek",
    "hour",
    "minute",
    "second",
    "microsecond",
    "quarter",
    "monthname",
    "dayname",
    "last_day",
    "date_add",
    "date_sub",
    "adddate",
    "subdate",
    "addtime",
    "subtime",
    "datediff",
    "timediff",
    "timestampdiff",
    "timestampadd",
    "date_format",
    "time_format",
    "str_to_date",
    "from_unixtime",
    "unix_timestamp",
    "makedate",
    "maketime",
    "to_days",
    "from_days",
    "period_add",
    "period_diff",
    "sec_to_time",
    "time_to_sec",
    // json
    "json_extract",
    "json_unquote",
    "json_object",
    "json_array",
    "json_contains",
    "json_contains_path",
    "json_keys",
    "json_length",
    "json_type",
    "json_valid",
    "json_search",
    "json_value",
    "json_quote",
    // conditionals
    "ifnull",
    "if",
    "isnull",
];

const SQLITE_FUNCTIONS: &[&str] = &[
    // aggregates
    "total",
    "group_concat",
    "string_agg",
    // math
    "trunc",
    "log2",
    // strings
    "instr",
    "printf",
    "format",
    "char",
    "unicode",
    "hex",
    "unhex",
    "quote",
    "glob",
    "like",
    // conditionals and types
    "ifnull",
    "iif",
    "if",
    "typeof",
    "likely",
    "unlikely",
    "likelihood",
    // date and time
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
    // json
    "json",
    "json_extract",
    "json_array",
    "json_object",
    "json_type",
    "json_valid",
    "json_array_length",
    "json_quote",
    "json_group_array",
    "json_group_object",
];

/// PostgreSQL types a value may be cast to. `reg*` types are left out: casting a name to
/// `regclass` would reveal whether a relation exists.
const POSTGRES_TYPES: &[&str] = &[
    "int2",
    "int4",
    "int8",
    "smallint",
    "integer",
    "int",
    "bigint",
    "numeric",
    "decimal",
    "float4",
    "float8",
    "real",
    "bool",
    "boolean",
    "text",
    "varchar",
    "bpchar",
    "char",
    "character",
    "date",
    "time",
    "timetz",
    "timestamp",
    "timestamptz",
    "interval",
    "json",
    "jsonb",
    "uuid",
    "bytea",
    "inet",
    "cidr",
    "macaddr",
    "bit",
    "varbit",
    "tsvector",
    "tsquery",
    "money",
];

/// PostgreSQL operators (as the raw parse tree names them).
const POSTGRES_OPERATORS: &[&str] = &[
    "=", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "^", "||", "|/", "||/", "@",
    "&", "|", "#", "~", "<<", ">>", "~~", "~~*", "!~~", "!~~*", "~*", "!~", "!~*", "->", "->>",
    "#>", "#>>", "@>", "<@", "?", "?|", "?&", "&&", "@@", "@?", "#-", "^@",
    // how the parser names BETWEEN
    "BETWEEN", "NOT BETWEEN", "BETWEEN SYMMETRIC", "NOT BETWEEN SYMMETRIC",
];

fn listed(list: &[&str], name: &str) -> bool {
    list.contains(&name)
}

pub(crate) fn postgres_function(name: &str) -> bool {
    listed(COMMON_FUNCTIONS, name) || listed(POSTGRES_FUNCTIONS, name)
}

pub(crate) fn postgres_table_function(name: &str) -> bool {
    listed(POSTGRES_TABLE_FUNCTIONS, name)
}

pub(crate) fn postgres_type(name: &str) -> bool {
    listed(POSTGRES_TYPES, name)
}

pub(crate) fn postgres_operator(name: &str) -> bool {
    listed(POSTGRES_OPERATORS, name)
}

/// MySQL function names are case-insensitive: the caller passes them lower-cased.
pub(crate) fn mysql_function(name: &str) -> bool {
    listed(COMMON_FUNCTIONS, name) || listed(MYSQL_FUNCTIONS, name)
}

/// SQLite function names are case-insensitive: the caller passes them lower-cased.
pub(crate) fn sqlite_function(name: &str) -> bool {
    listed(COMMON_FUNCTIONS, name) || listed(SQLITE_FUNCTIONS, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_functions_are_not_listed() {
        for name in [
            "pg_sleep",
            "pg_read_file",
            "pg_read_binary_file",
            "pg_ls_dir",
            "lo_import",
            "lo_export",
            "dblink",
            "dblink_exec",
            "set_config",
            "nextval",
            "setval",
            "pg_advisory_lock",
            "pg_notify",
            "pg_terminate_backend",
            "query_to_xml",
            "ts_stat",
            "txid_current",
        ] {
            assert!(!postgres_function(name), "{name}");
        }
        for name in ["load_file", "sleep", "benchmark", "get_lock", "sys_exec", "sys_eval"] {
            assert!(!mysql_function(name), "{name}");
        }
        for name in [
            "load_extension",
            "readfile",
            "writefile",
            "fts3_tokenizer",
            "edit",
            "zeroblob",
        ] {
            assert!(!sqlite_function(name), "{name}");
        }
    }

    #[test]
    fn table_functions_are_also_plain_functions() {
        for name in POSTGRES_TABLE_FUNCTIONS {
            assert!(postgres_function(name), "{name}");
        }
    }
}
