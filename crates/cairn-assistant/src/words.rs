//! Words of questions and of catalog names, compared the same way: identifiers split into words
//! (`InvoiceLine`, `quota_eur`), plurals folded, a few general synonyms.

/// The words of an identifier or a phrase, lowercase: `BillingCountry` → `billing country`,
/// `time_off_requests` → `time off requests`.
pub fn identifier_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for character in name.chars() {
        if !character.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        if let Some(before) = previous {
            let camel = character.is_uppercase() && before.is_lowercase();
            let digit = character.is_ascii_digit() != before.is_ascii_digit();
            if (camel || digit) && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        }
        current.extend(character.to_lowercase());
        previous = Some(character);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The singular of an English noun, near enough for matching: `categories` → `category`,
/// `statuses` → `status`, `orders` → `order`.
pub fn stem(word: &str) -> String {
    let word = word.to_lowercase();
    if word.len() <= 3 {
        return word;
    }
    for (suffix, replacement) in [
        ("ies", "y"),
        ("sses", "ss"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
        ("uses", "us"),
    ] {
        if let Some(root) = word.strip_suffix(suffix) {
            return format!("{root}{replacement}");
        }
    }
    if word.ends_with("ss") || word.ends_with("us") || word.ends_with("is") {
        return word;
    }
    match word.strip_suffix('s') {
        Some(root) => root.to_string(),
        None => word,
    }
}

/// A looser root for verbs and adjectives: `ordered` and `orders` → `ord`, `hired` → `hir`.
pub fn root(word: &str) -> String {
    let mut word = stem(word);
    for _ in 0..2 {
        let Some(base) = ["ing", "ed", "er", "e"].iter().find_map(|suffix| {
            word.strip_suffix(suffix)
                .filter(|base| base.len() >= 3)
                .map(str::to_string)
        }) else {
            break;
        };
        word = base;
    }
    word
}

/// Whether two words mean the same in a catalog: equal singulars, or equal roots of at least
/// four letters.
pub fn same_word(a: &str, b: &str) -> bool {
    if stem(a) == stem(b) {
        return true;
    }
    let (ra, rb) = (root(a), root(b));
    a.len() >= 4 && b.len() >= 4 && ra.len() >= 3 && ra == rb
}

/// General synonyms: a question word and the words of names that may mean it.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("song", &["track"]),
    ("tune", &["track"]),
    ("client", &["customer"]),
    ("buyer", &["customer"]),
    ("account", &["customer"]),
    ("staff", &["employee"]),
    ("headcount", &["employee"]),
    ("worker", &["employee"]),
    ("people", &["employee", "person"]),
    ("vendor", &["supplier"]),
    ("movie", &["film"]),
    ("salary", &["salary", "amount"]),
    ("sale", &["invoice", "order", "total"]),
    ("revenue", &["revenue", "total", "amount"]),
    ("spend", &["amount", "total"]),
    ("spending", &["amount", "total"]),
    ("sold", &["total"]),
    ("sell", &["total"]),
    ("selling", &["total"]),
    ("spent", &["amount", "total"]),
    (
        "length",
        &["length", "duration", "millisecond", "second", "minute"],
    ),
    (
        "long",
        &["length", "duration", "millisecond", "second", "minute"],
    ),
    (
        "longest",
        &["length", "duration", "millisecond", "second", "minute"],
    ),
    (
        "longer",
        &["length", "duration", "millisecond", "second", "minute"],
    ),
    (
        "shorter",
        &["length", "duration", "millisecond", "second", "minute"],
    ),
    (
        "shortest",
        &["length", "duration", "millisecond", "second", "minute"],
    ),
    (
        "duration",
        &["length", "duration", "millisecond", "second", "minute"],
    ),
    ("expensive", &["price", "cost", "rate", "amount"]),
    ("cheap", &["price", "cost", "rate", "amount"]),
    ("cheapest", &["price", "cost", "rate", "amount"]),
    ("cost", &["price", "cost", "amount"]),
    ("price", &["price", "cost", "rate"]),
    ("priced", &["price", "cost", "rate"]),
    ("unit", &["quantity", "qty", "unit"]),
    ("bill", &["invoice"]),
    ("billed", &["invoice"]),
    ("invoiced", &["invoice"]),
    ("costs", &["price", "cost", "amount"]),
    ("worth", &["value", "price", "amount", "total"]),
    ("charged", &["amount", "price", "total"]),
    ("paid", &["amount", "paid"]),
    ("country", &["country"]),
    ("nation", &["country"]),
    ("kind", &["type", "category", "kind"]),
    ("type", &["type", "kind", "category"]),
];

/// The name words a question word may stand for, itself first.
pub fn meanings(word: &str) -> Vec<String> {
    let mut out = vec![stem(word)];
    let singular = stem(word);
    for (key, names) in SYNONYMS {
        if *key == singular || *key == word {
            for name in *names {
                let name = stem(name);
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// Words of a question that never name a table, a column or a value.
pub const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "and", "or", "is",
    "are", "was", "were", "be", "been", "do", "does", "did", "have", "has", "had", "what", "which",
    "who", "whom", "whose", "where", "when", "how", "many", "much", "there", "their", "them",
    "they", "it", "its", "this", "that", "these", "those", "me", "my", "we", "our", "us", "you",
    "your", "i", "all", "any", "some", "each", "every", "per", "as", "than", "more", "less",
    "most", "least", "only", "just", "also", "please", "so", "not", "no", "can", "could", "would",
    "should", "will", "may", "might", "must", "s", "into", "about", "tell", "give", "show", "list",
    "get", "find", "then", "being",
];

pub fn is_function_word(word: &str) -> bool {
    FUNCTION_WORDS.contains(&word)
}

/// Words that are never values in a condition.
pub const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "from",
    "by",
    "with",
    "and",
    "or",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "where",
    "when",
    "how",
    "many",
    "much",
    "there",
    "their",
    "them",
    "they",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "me",
    "my",
    "we",
    "our",
    "us",
    "you",
    "your",
    "i",
    "all",
    "any",
    "some",
    "each",
    "every",
    "per",
    "as",
    "than",
    "more",
    "less",
    "most",
    "least",
    "top",
    "first",
    "last",
    "list",
    "show",
    "give",
    "tell",
    "find",
    "get",
    "number",
    "count",
    "total",
    "sum",
    "average",
    "avg",
    "mean",
    "max",
    "maximum",
    "min",
    "minimum",
    "highest",
    "lowest",
    "largest",
    "smallest",
    "biggest",
    "greatest",
    "only",
    "just",
    "also",
    "please",
    "table",
    "tables",
    "column",
    "columns",
    "view",
    "views",
    "row",
    "rows",
    "record",
    "records",
    "data",
    "about",
    "since",
    "before",
    "after",
    "between",
    "during",
    "until",
    "then",
    "so",
    "not",
    "no",
    "yes",
    "can",
    "could",
    "would",
    "should",
    "will",
    "shall",
    "may",
    "might",
    "must",
    "one",
    "ones",
    "made",
    "make",
    "happen",
    "happened",
    "exist",
    "exists",
    "above",
    "below",
    "over",
    "under",
    "greater",
    "fewer",
    "least",
    "at",
    "into",
    "out",
    "up",
    "down",
    "s",
    "been",
    "being",
    "month",
    "year",
    "week",
    "day",
    "days",
    "months",
    "years",
    "today",
    "yesterday",
    "ago",
    "this",
    "next",
    "whole",
    "overall",
    "altogether",
    "there",
    "sorted",
    "rank",
    "ranked",
    "best",
    "worst",
    "bottom",
    "we",
    "use",
    "used",
    "uses",
];

/// General words of a question that are never a value, a table or a column: verbs of keeping
/// and having, adverbs of degree, words about the asker.
pub const FILLER_WORDS: &[&str] = &[
    "store",
    "stored",
    "stores",
    "keep",
    "keeps",
    "kept",
    "hold",
    "holds",
    "held",
    "contain",
    "contains",
    "record",
    "recorded",
    "info",
    "information",
    "detail",
    "details",
    "fit",
    "together",
    "go",
    "goes",
    "back",
    "way",
    "sit",
    "sits",
    "sitting",
    "look",
    "looks",
    "like",
    "start",
    "starts",
    "begin",
    "begins",
    "exactly",
    "really",
    "currently",
    "actually",
    "basically",
    "altogether",
    "overall",
    "received",
    "receive",
    "got",
    "ever",
    "far",
    "so",
    "right",
    "now",
    "still",
    "already",
    "available",
    "existing",
    "stuff",
    "things",
    "thing",
    "anything",
    "something",
    "everything",
    "else",
    "would",
    "like",
    "want",
    "wanted",
    "need",
    "know",
    "see",
    "check",
    "please",
    "quick",
    "quickly",
    "roughly",
    "approximately",
    "about",
    "around",
    "currently",
    "our",
    "we",
    "we've",
    "we're",
    "i'd",
    "i'm",
    "let",
    "lets",
    "let's",
    "catalog",
    "system",
    "company",
    "business",
    "released",
    "put",
    "entered",
    "logged",
    "kept",
    "tracked",
    "captured",
    "listed",
    "registered",
    "having",
    "there's",
    "here",
    "exist",
    "exists",
    "total",
    "altogether",
    "combined",
    "together",
    "whole",
    "entire",
    "ones",
    "one",
    "those",
    "these",
    "such",
    "because",
    "due",
    "why",
    "happened",
    "ago",
    "single",
    "ever",
    "amount",
    "value",
    "figure",
    "minutes",
    "minute",
    "seconds",
    "hours",
    "cents",
    "euros",
    "dollars",
    "recent",
    "recently",
];

pub fn is_filler(word: &str) -> bool {
    FILLER_WORDS.contains(&word)
}

pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// The country a word of nationality names ("Canadian" → canada, "French" → france), in lower
/// case: the irregular ones by name, the others by their suffix, each form a candidate.
pub fn country_forms(word: &str) -> Vec<String> {
    const IRREGULAR: &[(&str, &[&str])] = &[
        ("american", &["usa", "united states", "us"]),
        ("british", &["united kingdom", "uk"]),
        ("english", &["england", "united kingdom", "uk"]),
        ("french", &["france"]),
        ("dutch", &["netherlands", "the netherlands"]),
        ("danish", &["denmark"]),
        ("swiss", &["switzerland"]),
        ("spanish", &["spain"]),
        ("polish", &["poland"]),
        ("swedish", &["sweden"]),
        ("finnish", &["finland"]),
        ("irish", &["ireland"]),
        ("scottish", &["scotland"]),
        ("turkish", &["turkey"]),
        ("portuguese", &["portugal"]),
        ("chinese", &["china"]),
        ("japanese", &["japan"]),
        ("norwegian", &["norway"]),
        ("belgian", &["belgium"]),
        ("czech", &["czech republic", "czechia"]),
        ("argentine", &["argentina"]),
        ("argentinian", &["argentina"]),
        ("filipino", &["philippines"]),
        ("greek", &["greece"]),
        ("thai", &["thailand"]),
        ("german", &["germany"]),
        ("mexican", &["mexico"]),
        ("peruvian", &["peru"]),
        ("kiwi", &["new zealand"]),
    ];
    let lower = word.to_lowercase();
    if let Some((_, countries)) = IRREGULAR.iter().find(|(name, _)| *name == lower) {
        return countries
            .iter()
            .map(|country| country.to_string())
            .collect();
    }
    let mut forms = Vec::new();
    // Canadian → canada, Brazilian → brazil, Indian → india, Korean → korea, Chilean → chile,
    // Hungarian → hungary.
    for (suffix, replacements) in [
        ("ian", &["a", "", "ia", "y"][..]),
        ("ean", &["ea", "e"][..]),
        ("an", &["a", ""][..]),
        ("ese", &["", "a"][..]),
        ("i", &["", "an"][..]),
    ] {
        let shortest = if suffix == "i" { 5 } else { 3 };
        if let Some(base) = lower
            .strip_suffix(suffix)
            .filter(|base| base.len() >= shortest)
        {
            for replacement in replacements {
                let form = format!("{base}{replacement}");
                if !forms.contains(&form) {
                    forms.push(form);
                }
            }
            break;
        }
    }
    forms
}

/// The ISO 3166 codes of a country's name in lower case ("germany" → de, deu), for columns
/// that hold codes instead of names.
pub fn country_codes(name: &str) -> &'static [&'static str] {
    const CODES: &[(&str, &[&str])] = &[
        ("argentina", &["ar", "arg"]),
        ("australia", &["au", "aus"]),
        ("austria", &["at", "aut"]),
        ("belgium", &["be", "bel"]),
        ("brazil", &["br", "bra"]),
        ("canada", &["ca", "can"]),
        ("chile", &["cl", "chl"]),
        ("china", &["cn", "chn"]),
        ("colombia", &["co", "col"]),
        ("czech republic", &["cz", "cze"]),
        ("czechia", &["cz", "cze"]),
        ("denmark", &["dk", "dnk"]),
        ("egypt", &["eg", "egy"]),
        ("finland", &["fi", "fin"]),
        ("france", &["fr", "fra"]),
        ("germany", &["de", "deu"]),
        ("greece", &["gr", "grc"]),
        ("hungary", &["hu", "hun"]),
        ("india", &["in", "ind"]),
        ("indonesia", &["id", "idn"]),
        ("ireland", &["ie", "irl"]),
        ("israel", &["il", "isr"]),
        ("italy", &["it", "ita"]),
        ("japan", &["jp", "jpn"]),
        ("korea", &["kr", "kor"]),
        ("south korea", &["kr", "kor"]),
        ("mexico", &["mx", "mex"]),
        ("netherlands", &["nl", "nld"]),
        ("the netherlands", &["nl", "nld"]),
        ("new zealand", &["nz", "nzl"]),
        ("nigeria", &["ng", "nga"]),
        ("norway", &["no", "nor"]),
        ("peru", &["pe", "per"]),
        ("philippines", &["ph", "phl"]),
        ("poland", &["pl", "pol"]),
        ("portugal", &["pt", "prt"]),
        ("romania", &["ro", "rou"]),
        ("russia", &["ru", "rus"]),
        ("singapore", &["sg", "sgp"]),
        ("south africa", &["za", "zaf"]),
        ("spain", &["es", "esp"]),
        ("sweden", &["se", "swe"]),
        ("switzerland", &["ch", "che"]),
        ("thailand", &["th", "tha"]),
        ("turkey", &["tr", "tur"]),
        ("united arab emirates", &["ae", "are"]),
        ("united kingdom", &["gb", "gbr", "uk"]),
        ("uk", &["gb", "gbr"]),
        ("united states", &["us", "usa"]),
        ("usa", &["us"]),
        ("vietnam", &["vn", "vnm"]),
    ];
    CODES
        .iter()
        .find(|(country, _)| *country == name)
        .map_or(&[], |(_, codes)| codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nationalities_name_countries() {
        for (word, country) in [
            ("Canadian", "canada"),
            ("brazilian", "brazil"),
            ("Indian", "india"),
            ("Korean", "korea"),
            ("French", "france"),
            ("Portuguese", "portugal"),
            ("Chinese", "china"),
            ("Hungarian", "hungary"),
            ("Israeli", "israel"),
        ] {
            assert!(
                country_forms(word).contains(&country.to_string()),
                "{word}: {:?}",
                country_forms(word)
            );
        }
        // Short words and words with no nationality's ending give nothing.
        assert!(country_forms("taxi").is_empty());
        assert_eq!(country_codes("germany"), &["de", "deu"]);
        assert!(country_codes("orders").is_empty());
        assert!(country_forms("orders").is_empty());
    }

    #[test]
    fn identifiers_and_plurals() {
        assert_eq!(
            identifier_words("BillingCountry"),
            vec!["billing", "country"]
        );
        assert_eq!(
            identifier_words("time_off_requests"),
            vec!["time", "off", "requests"]
        );
        assert_eq!(
            identifier_words("payment_p2022_01"),
            vec!["payment", "p", "2022", "01"]
        );
        assert_eq!(stem("categories"), "category");
        assert_eq!(stem("statuses"), "status");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("salaries"), "salary");
        assert!(same_word("hired", "hire"));
        assert!(same_word("ordered", "orders"));
        assert!(!same_word("paid", "payments"));
    }
}
