//! The demo database: a fictional company ("Northwind Lantern Co.") in one SQLite file, with
//! sales, finance, hr and product tables, `--` comments the crawler turns into descriptions,
//! primary and foreign keys, views and deterministic rows.
//!
//! Each area has one clearly sensitive table holding a canary value ([`CANARIES`]) that tests can
//! look for where it must never appear (e.g. in requests to a language model).

use std::fmt::Write as _;
use std::path::Path;

/// A value planted in a sensitive table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoCanary {
    pub team: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    pub value: &'static str,
}

/// One canary per area, each in that area's sensitive table.
pub const CANARIES: [DemoCanary; 4] = [
    DemoCanary {
        team: "sales",
        table: "customer_contacts",
        column: "email",
        value: "margarethe.quillfeather@example.com",
    },
    DemoCanary {
        team: "finance",
        table: "bank_accounts",
        column: "iban",
        value: "DE44500105175407324931",
    },
    DemoCanary {
        team: "hr",
        table: "salaries",
        column: "bank_reference",
        value: "SAL-REF-QX7734-VELLICHOR",
    },
    DemoCanary {
        team: "product",
        table: "unreleased_products",
        column: "codename",
        value: "Project Vellichor Lantern",
    },
];

/// Every table and view of the demo database with its team.
pub const DEMO_RELATIONS: [(&str, &str); 25] = [
    ("regions", "sales"),
    ("sales_reps", "sales"),
    ("customers", "sales"),
    ("customer_contacts", "sales"),
    ("orders", "sales"),
    ("order_items", "sales"),
    ("sales_monthly_revenue", "sales"),
    ("invoices", "finance"),
    ("payments", "finance"),
    ("refunds", "finance"),
    ("expenses", "finance"),
    ("bank_accounts", "finance"),
    ("finance_outstanding_invoices", "finance"),
    ("departments", "hr"),
    ("employees", "hr"),
    ("salaries", "hr"),
    ("performance_reviews", "hr"),
    ("time_off_requests", "hr"),
    ("hr_headcount_by_department", "hr"),
    ("product_categories", "product"),
    ("suppliers", "product"),
    ("products", "product"),
    ("inventory_levels", "product"),
    ("unreleased_products", "product"),
    ("product_stock_alerts", "product"),
];

/// The team owning a demo table or view: `sales`, `finance`, `hr` or `product`.
pub fn demo_team_of(table: &str) -> Option<&'static str> {
    DEMO_RELATIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(table))
        .map(|(_, team)| *team)
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write the demo database: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the demo database: {0}")]
    Sqlite(#[from] sqlx::Error),
}

/// Writes the demo database to `path` (replacing any file there, atomically: it is built beside
/// it and renamed). Blocks; safe to call from inside or outside a tokio runtime.
pub fn write_demo_database(path: &Path) -> Result<(), DemoError> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(write_demo_database_async(&path))
    })
    .join()
    .unwrap_or_else(|_| {
        Err(DemoError::Io(std::io::Error::other(
            "the demo writer panicked",
        )))
    })
}

async fn write_demo_database_async(path: &Path) -> Result<(), DemoError> {
    use sqlx::Connection;
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path has no file name"))?;
    let mut building_name = file_name.to_owned();
    building_name.push(".building");
    let building = path.with_file_name(building_name);
    match std::fs::remove_file(&building) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&building)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete)
        .foreign_keys(true);
    let mut connection = sqlx::sqlite::SqliteConnection::connect_with(&options).await?;
    let script = demo_sql();
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    std::fs::rename(&building, path)?;
    Ok(())
}

/// The SQL script that builds the demo database (schema, rows, views) in one transaction.
pub fn demo_sql() -> String {
    let mut sql = String::with_capacity(256 * 1024);
    sql.push_str("BEGIN;\n");
    sql.push_str(SCHEMA);
    Rows::new().write_all(&mut sql);
    sql.push_str(VIEWS);
    sql.push_str("COMMIT;\n");
    sql
}

const SCHEMA: &str = r#"
CREATE TABLE regions ( -- Sales regions used for territory planning and reporting
    id INTEGER PRIMARY KEY, -- Region identifier
    name TEXT NOT NULL UNIQUE, -- Region name, e.g. EMEA North
    country_code TEXT NOT NULL -- ISO 3166 code of the region's main country
);

CREATE TABLE departments ( -- Company departments (org chart), one row per department
    id INTEGER PRIMARY KEY, -- Department identifier
    name TEXT NOT NULL UNIQUE, -- Department name
    cost_center TEXT NOT NULL, -- Finance cost center code charged for the department
    head_employee_id INTEGER -- Employee heading the department (see employees.id)
);

CREATE TABLE employees ( -- Everyone employed by the company, current and former
    id INTEGER PRIMARY KEY, -- Employee identifier
    first_name TEXT NOT NULL, -- Given name
    last_name TEXT NOT NULL, -- Family name
    email TEXT NOT NULL UNIQUE, -- Work e-mail address
    department_id INTEGER NOT NULL REFERENCES departments(id), -- Department the employee belongs to
    manager_id INTEGER REFERENCES employees(id), -- Direct manager, empty for the CEO
    job_title TEXT NOT NULL, -- Job title
    hired_on TEXT NOT NULL, -- First working day (YYYY-MM-DD)
    location TEXT NOT NULL -- Office city or Remote
);

CREATE TABLE salaries ( -- SENSITIVE: employee base salaries and payroll bank references
    id INTEGER PRIMARY KEY, -- Salary record identifier
    employee_id INTEGER NOT NULL REFERENCES employees(id), -- Employee paid
    amount_eur REAL NOT NULL, -- Gross yearly base salary in euros
    effective_from TEXT NOT NULL, -- Date the salary takes effect
    bank_reference TEXT NOT NULL -- Payroll bank transfer reference
);

CREATE TABLE performance_reviews ( -- Half-yearly performance reviews of employees
    id INTEGER PRIMARY KEY, -- Review identifier
    employee_id INTEGER NOT NULL REFERENCES employees(id), -- Employee reviewed
    reviewer_id INTEGER NOT NULL REFERENCES employees(id), -- Manager who wrote the review
    period TEXT NOT NULL, -- Review period, e.g. 2024-H1
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5), -- Overall rating from 1 (low) to 5 (outstanding)
    summary TEXT -- Short written summary
);

CREATE TABLE time_off_requests ( -- Vacation, sick leave and parental leave requests
    id INTEGER PRIMARY KEY, -- Request identifier
    employee_id INTEGER NOT NULL REFERENCES employees(id), -- Employee asking for time off
    starts_on TEXT NOT NULL, -- First day off
    ends_on TEXT NOT NULL, -- Last day off
    kind TEXT NOT NULL, -- vacation, sick or parental
    status TEXT NOT NULL -- requested, approved or rejected
);

CREATE TABLE sales_reps ( -- Account executives and their sales quota
    id INTEGER PRIMARY KEY, -- Sales rep identifier
    employee_id INTEGER NOT NULL REFERENCES employees(id), -- The rep as an employee
    region_id INTEGER NOT NULL REFERENCES regions(id), -- Territory covered
    quota_eur REAL NOT NULL, -- Yearly booking quota in euros
    started_on TEXT NOT NULL -- Date the rep started selling
);

CREATE TABLE customers ( -- Companies that buy from us (accounts)
    id INTEGER PRIMARY KEY, -- Customer identifier
    name TEXT NOT NULL, -- Company name
    segment TEXT NOT NULL, -- enterprise, mid-market or small business
    region_id INTEGER NOT NULL REFERENCES regions(id), -- Region the customer is served from
    sales_rep_id INTEGER REFERENCES sales_reps(id), -- Account owner
    created_on TEXT NOT NULL -- Date the account was opened
);

CREATE TABLE customer_contacts ( -- SENSITIVE: personal contact details of people at customers
    id INTEGER PRIMARY KEY, -- Contact identifier
    customer_id INTEGER NOT NULL REFERENCES customers(id), -- Customer the person works for
    full_name TEXT NOT NULL, -- Person's full name
    email TEXT NOT NULL, -- Personal or direct e-mail address
    phone TEXT -- Direct phone number
);

CREATE TABLE product_categories ( -- Product catalogue categories (two levels)
    id INTEGER PRIMARY KEY, -- Category identifier
    name TEXT NOT NULL, -- Category name
    parent_id INTEGER REFERENCES product_categories(id) -- Parent category, empty for top level
);

CREATE TABLE suppliers ( -- Manufacturers and wholesalers we buy products from
    id INTEGER PRIMARY KEY, -- Supplier identifier
    name TEXT NOT NULL, -- Supplier company name
    country_code TEXT NOT NULL, -- ISO 3166 country code
    contact_email TEXT NOT NULL -- Purchasing contact e-mail
);

CREATE TABLE products ( -- Products we sell, one row per SKU
    id INTEGER PRIMARY KEY, -- Product identifier
    sku TEXT NOT NULL UNIQUE, -- Stock keeping unit code
    name TEXT NOT NULL, -- Product name shown to customers
    category_id INTEGER NOT NULL REFERENCES product_categories(id), -- Catalogue category
    supplier_id INTEGER NOT NULL REFERENCES suppliers(id), -- Supplier we buy from
    list_price_eur REAL NOT NULL, -- Current list price in euros
    launched_on TEXT NOT NULL, -- Launch date
    discontinued INTEGER NOT NULL DEFAULT 0 -- 1 when no longer sold
);

CREATE TABLE inventory_levels ( -- Stock counts per product and warehouse
    id INTEGER PRIMARY KEY, -- Count identifier
    product_id INTEGER NOT NULL REFERENCES products(id), -- Product counted
    warehouse TEXT NOT NULL, -- Warehouse code: AMS, ATL or SIN
    quantity_on_hand INTEGER NOT NULL, -- Units in stock at the last count
    reorder_point INTEGER NOT NULL, -- Stock level that triggers a purchase order
    counted_on TEXT NOT NULL -- Date of the count
);

CREATE TABLE unreleased_products ( -- SENSITIVE: roadmap of products not yet announced
    id INTEGER PRIMARY KEY, -- Roadmap item identifier
    codename TEXT NOT NULL, -- Internal codename, confidential
    working_title TEXT NOT NULL, -- Working product name
    category_id INTEGER NOT NULL REFERENCES product_categories(id), -- Planned category
    target_launch TEXT NOT NULL, -- Planned launch quarter
    projected_price_eur REAL NOT NULL -- Planned list price in euros
);

CREATE TABLE orders ( -- Customer orders, one row per order
    id INTEGER PRIMARY KEY, -- Order identifier
    customer_id INTEGER NOT NULL REFERENCES customers(id), -- Customer who ordered
    sales_rep_id INTEGER REFERENCES sales_reps(id), -- Rep credited with the order
    ordered_on TEXT NOT NULL, -- Order date
    status TEXT NOT NULL, -- placed, shipped, delivered or cancelled
    total_eur REAL NOT NULL -- Order total in euros, before tax
);

CREATE TABLE order_items ( -- Order lines: which products and how many
    id INTEGER PRIMARY KEY, -- Order line identifier
    order_id INTEGER NOT NULL REFERENCES orders(id), -- Order the line belongs to
    product_id INTEGER NOT NULL REFERENCES products(id), -- Product ordered
    quantity INTEGER NOT NULL, -- Units ordered
    unit_price_eur REAL NOT NULL -- Price per unit in euros after discount
);

CREATE TABLE invoices ( -- Invoices sent to customers for their orders
    id INTEGER PRIMARY KEY, -- Invoice identifier
    order_id INTEGER NOT NULL REFERENCES orders(id), -- Order invoiced
    issued_on TEXT NOT NULL, -- Issue date
    due_on TEXT NOT NULL, -- Payment due date
    amount_eur REAL NOT NULL, -- Amount due in euros, tax included
    status TEXT NOT NULL -- open, paid or overdue
);

CREATE TABLE payments ( -- Customer payments received against invoices
    id INTEGER PRIMARY KEY, -- Payment identifier
    invoice_id INTEGER NOT NULL REFERENCES invoices(id), -- Invoice paid
    paid_on TEXT NOT NULL, -- Date the money arrived
    amount_eur REAL NOT NULL, -- Amount received in euros
    method TEXT NOT NULL -- bank transfer, card or direct debit
);

CREATE TABLE refunds ( -- Money returned to customers (returns, goodwill)
    id INTEGER PRIMARY KEY, -- Refund identifier
    payment_id INTEGER NOT NULL REFERENCES payments(id), -- Payment refunded
    refunded_on TEXT NOT NULL, -- Refund date
    amount_eur REAL NOT NULL, -- Amount refunded in euros
    reason TEXT NOT NULL -- Why the money was returned
);

CREATE TABLE expenses ( -- Employee expense claims (travel, meals, equipment)
    id INTEGER PRIMARY KEY, -- Expense identifier
    employee_id INTEGER NOT NULL REFERENCES employees(id), -- Employee who spent the money
    department_id INTEGER NOT NULL REFERENCES departments(id), -- Department charged
    spent_on TEXT NOT NULL, -- Date of the expense
    category TEXT NOT NULL, -- travel, meals, equipment or training
    amount_eur REAL NOT NULL -- Amount claimed in euros
);

CREATE TABLE bank_accounts ( -- SENSITIVE: the company's bank accounts and balances
    id INTEGER PRIMARY KEY, -- Account identifier
    bank_name TEXT NOT NULL, -- Bank holding the account
    iban TEXT NOT NULL UNIQUE, -- International bank account number
    currency TEXT NOT NULL, -- Account currency
    balance REAL NOT NULL -- Balance at the last statement, in the account currency
);
"#;

const VIEWS: &str = r#"
CREATE VIEW sales_monthly_revenue AS
-- Revenue of non-cancelled orders per month and region
SELECT substr(o.ordered_on, 1, 7) AS month, r.name AS region,
       count(*) AS orders, round(sum(o.total_eur), 2) AS revenue_eur
FROM orders o
JOIN customers c ON c.id = o.customer_id
JOIN regions r ON r.id = c.region_id
WHERE o.status <> 'cancelled'
GROUP BY 1, 2;

CREATE VIEW finance_outstanding_invoices AS
-- Invoices not yet paid, with the customer to chase
SELECT i.id AS invoice_id, c.name AS customer, i.issued_on, i.due_on, i.amount_eur, i.status
FROM invoices i
JOIN orders o ON o.id = i.order_id
JOIN customers c ON c.id = o.customer_id
WHERE i.status <> 'paid';

CREATE VIEW hr_headcount_by_department AS
-- Number of employees per department
SELECT d.name AS department, count(e.id) AS headcount
FROM departments d
LEFT JOIN employees e ON e.department_id = d.id
GROUP BY d.name;

CREATE VIEW product_stock_alerts AS
-- Products whose stock fell below the reorder point in a warehouse
SELECT p.sku, p.name, l.warehouse, l.quantity_on_hand, l.reorder_point
FROM inventory_levels l
JOIN products p ON p.id = l.product_id
WHERE l.quantity_on_hand < l.reorder_point;
"#;

/// A small deterministic generator (splitmix64), so the demo rows never change.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    /// In `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    /// In `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.below(choices.len() as u64) as usize]
    }

    fn money(&mut self, low: i64, high: i64) -> f64 {
        self.between(low * 100, high * 100) as f64 / 100.0
    }
}

/// `YYYY-MM-DD` for a day counted from 2021-01-01.
fn date(day: i64) -> String {
    // days from 1970-01-01 to 2021-01-01
    let days = 18_628 + day;
    // civil-from-days (proleptic Gregorian)
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day_of_month = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day_of_month:02}")
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kaia",
    "Luca", "Mei", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomasz", "Uma", "Viktor",
    "Wanjiru", "Xavier", "Yara", "Zoltan",
];
const LAST_NAMES: &[&str] = &[
    "Almeida",
    "Brandt",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "O'Neill",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ulloa",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zimmermann",
];
const COMPANY_WORDS: &[&str] = &[
    "Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchid", "Pioneer", "Quarry", "Ridge", "Summit",
    "Tidal",
];
const COMPANY_SUFFIXES: &[&str] = &[
    "Logistics",
    "Hotels",
    "Retail",
    "Foods",
    "Clinics",
    "Studios",
    "Outdoor",
    "Labs",
    "Media",
    "Builders",
];

struct Rows {
    generator: Generator,
}

impl Rows {
    fn new() -> Self {
        Rows {
            generator: Generator(0x00C0_FFEE_CA12_2024),
        }
    }

    fn insert(sql: &mut String, table: &str, columns: &str, rows: &[String]) {
        for chunk in rows.chunks(200) {
            let _ = writeln!(
                sql,
                "INSERT INTO {table} ({columns}) VALUES\n  {};",
                chunk.join(",\n  ")
            );
        }
    }

    fn write_all(&mut self, sql: &mut String) {
        let random = &mut self.generator;

        let regions = [
            ("EMEA North", "DE"),
            ("EMEA South", "ES"),
            ("Americas East", "US"),
            ("Americas West", "US"),
            ("APAC", "SG"),
            ("LATAM", "BR"),
        ];
        let rows: Vec<String> = regions
            .iter()
            .enumerate()
            .map(|(index, (name, country))| {
                format!("({}, {}, {})", index + 1, quoted(name), quoted(country))
            })
            .collect();
        Self::insert(sql, "regions", "id, name, country_code", &rows);

        let departments = [
            ("Executive", "CC-100"),
            ("Sales", "CC-200"),
            ("Finance", "CC-300"),
            ("People", "CC-400"),
            ("Product", "CC-500"),
            ("Engineering", "CC-600"),
            ("Operations", "CC-700"),
            ("Customer Success", "CC-800"),
        ];
        let rows: Vec<String> = departments
            .iter()
            .enumerate()
            .map(|(index, (name, cost_center))| {
                // the head of department N is employee N (employees 1..=8 head departments)
                format!(
                    "({}, {}, {}, {})",
                    index + 1,
                    quoted(name),
                    quoted(cost_center),
                    index + 1
                )
            })
            .collect();
        Self::insert(
            sql,
            "departments",
            "id, name, cost_center, head_employee_id",
            &rows,
        );

        const EMPLOYEES: i64 = 80;
        let titles = [
            "Analyst",
            "Specialist",
            "Senior Specialist",
            "Lead",
            "Manager",
        ];
        let cities = [
            "Amsterdam",
            "Berlin",
            "Lisbon",
            "Atlanta",
            "Singapore",
            "Remote",
        ];
        let mut employee_rows = Vec::new();
        let mut employee_department = vec![0_i64; EMPLOYEES as usize + 1];
        for id in 1..=EMPLOYEES {
            let (first, last) = if id == 42 {
                ("Quintessa", "Marlowe-Vance")
            } else {
                (
                    FIRST_NAMES[(id as usize * 7) % FIRST_NAMES.len()],
                    LAST_NAMES[(id as usize * 11) % LAST_NAMES.len()],
                )
            };
            let department = if id <= 8 { id } else { random.between(1, 8) };
            employee_department[id as usize] = department;
            let (manager, title) = match id {
                1 => ("NULL".to_owned(), "Chief Executive Officer".to_owned()),
                2..=8 => (
                    "1".to_owned(),
                    format!("Head of {}", departments[id as usize - 1].0),
                ),
                _ => (department.to_string(), random.pick(&titles).to_owned()),
            };
            let email = format!(
                "{}.{}{}@northwind-lantern.example",
                first.to_lowercase(),
                last.to_lowercase().replace(['\'', ' '], ""),
                id
            );
            employee_rows.push(format!(
                "({id}, {}, {}, {}, {department}, {manager}, {}, {}, {})",
                quoted(first),
                quoted(last),
                quoted(&email),
                quoted(&title),
                quoted(&date(random.between(0, 1_200))),
                quoted(random.pick(&cities))
            ));
        }
        Self::insert(
            sql,
            "employees",
            "id, first_name, last_name, email, department_id, manager_id, job_title, hired_on, location",
            &employee_rows,
        );

        let mut salary_rows = Vec::new();
        for employee in 1..=EMPLOYEES {
            let base = match employee {
                1 => 310_000,
                2..=8 => random.between(140_000, 190_000),
                _ => random.between(42_000, 120_000),
            };
            let reference = if employee == 42 {
                CANARIES[2].value.to_owned()
            } else {
                format!("SAL-REF-{:06}", random.below(1_000_000))
            };
            salary_rows.push(format!(
                "({employee}, {employee}, {base}.00, {}, {})",
                quoted(&date(random.between(900, 1_300))),
                quoted(&reference)
            ));
        }
        Self::insert(
            sql,
            "salaries",
            "id, employee_id, amount_eur, effective_from, bank_reference",
            &salary_rows,
        );

        let summaries = [
            "Consistently exceeds expectations",
            "Solid delivery, grow cross-team visibility",
            "Meets expectations",
            "Needs support on planning",
            "Outstanding year, ready for promotion",
        ];
        let mut review_rows = Vec::new();
        for id in 1..=120_i64 {
            let employee = 9 + (id - 1) % (EMPLOYEES - 8);
            let reviewer = employee_department[employee as usize];
            let period = if id <= 72 { "2024-H1" } else { "2024-H2" };
            let rating = random.between(1, 5);
            review_rows.push(format!(
                "({id}, {employee}, {reviewer}, {}, {rating}, {})",
                quoted(period),
                quoted(summaries[(5 - rating) as usize])
            ));
        }
        Self::insert(
            sql,
            "performance_reviews",
            "id, employee_id, reviewer_id, period, rating, summary",
            &review_rows,
        );

        let mut time_off_rows = Vec::new();
        for id in 1..=100_i64 {
            let start = random.between(1_100, 1_460);
            time_off_rows.push(format!(
                "({id}, {}, {}, {}, {}, {})",
                random.between(1, EMPLOYEES),
                quoted(&date(start)),
                quoted(&date(start + random.between(0, 14))),
                quoted(random.pick(&["vacation", "vacation", "sick", "parental"])),
                quoted(random.pick(&["approved", "approved", "requested", "rejected"]))
            ));
        }
        Self::insert(
            sql,
            "time_off_requests",
            "id, employee_id, starts_on, ends_on, kind, status",
            &time_off_rows,
        );

        const SALES_REPS: i64 = 15;
        let mut rep_rows = Vec::new();
        for id in 1..=SALES_REPS {
            // the reps are the sales department's first employees after the heads
            rep_rows.push(format!(
                "({id}, {}, {}, {}.00, {})",
                8 + id,
                1 + (id - 1) % 6,
                random.between(400, 1_500) * 1_000,
                quoted(&date(random.between(0, 900)))
            ));
        }
        Self::insert(
            sql,
            "sales_reps",
            "id, employee_id, region_id, quota_eur, started_on",
            &rep_rows,
        );

        const CUSTOMERS: i64 = 120;
        let mut customer_rows = Vec::new();
        let mut customer_rep = vec![0_i64; CUSTOMERS as usize + 1];
        for id in 1..=CUSTOMERS {
            let name = format!(
                "{} {}",
                COMPANY_WORDS[(id as usize * 3) % COMPANY_WORDS.len()],
                COMPANY_SUFFIXES[(id as usize * 7 + id as usize / 20) % COMPANY_SUFFIXES.len()]
            );
            let rep = random.between(1, SALES_REPS);
            customer_rep[id as usize] = rep;
            customer_rows.push(format!(
                "({id}, {}, {}, {}, {rep}, {})",
                quoted(&format!(
                    "{name} {}",
                    ["BV", "GmbH", "Inc.", "Ltd", "SA", "Pte"][id as usize % 6]
                )),
                quoted(random.pick(&["enterprise", "mid-market", "mid-market", "small business"])),
                1 + (rep - 1) % 6,
                quoted(&date(random.between(0, 1_000)))
            ));
        }
        Self::insert(
            sql,
            "customers",
            "id, name, segment, region_id, sales_rep_id, created_on",
            &customer_rows,
        );

        let mut contact_rows = Vec::new();
        for id in 1..=150_i64 {
            let customer = 1 + (id - 1) % CUSTOMERS;
            let (full_name, email) = if id == 77 {
                (
                    "Margarethe Quillfeather".to_owned(),
                    CANARIES[0].value.to_owned(),
                )
            } else {
                let first = random.pick(FIRST_NAMES);
                let last = random.pick(LAST_NAMES);
                (
                    format!("{first} {last}"),
                    format!(
                        "{}.{}.{id}@customer.example",
                        first.to_lowercase(),
                        last.to_lowercase().replace('\'', "")
                    ),
                )
            };
            contact_rows.push(format!(
                "({id}, {customer}, {}, {}, {})",
                quoted(&full_name),
                quoted(&email),
                quoted(&format!(
                    "+31 20 {:03} {:04}",
                    random.below(1_000),
                    random.below(10_000)
                ))
            ));
        }
        Self::insert(
            sql,
            "customer_contacts",
            "id, customer_id, full_name, email, phone",
            &contact_rows,
        );

        let categories = [
            ("Lighting", "NULL"),
            ("Outdoor", "NULL"),
            ("Smart Home", "NULL"),
            ("Desk Lamps", "1"),
            ("Lanterns", "2"),
            ("Camping", "2"),
            ("Sensors", "3"),
            ("Hubs", "3"),
        ];
        let rows: Vec<String> = categories
            .iter()
            .enumerate()
            .map(|(index, (name, parent))| format!("({}, {}, {parent})", index + 1, quoted(name)))
            .collect();
        Self::insert(sql, "product_categories", "id, name, parent_id", &rows);

        let suppliers = [
            ("Lumen Works", "NL"),
            ("Shenzhen Brightline", "CN"),
            ("Nordic Glass", "SE"),
            ("Atlas Metals", "DE"),
            ("Pacific Circuits", "TW"),
            ("Andes Textiles", "PE"),
            ("Volta Batteries", "KR"),
            ("Iberia Ceramics", "ES"),
            ("Great Lakes Plastics", "US"),
            ("Sakura Optics", "JP"),
            ("Baltic Timber", "LV"),
            ("Cape Packaging", "ZA"),
        ];
        let rows: Vec<String> = suppliers
            .iter()
            .enumerate()
            .map(|(index, (name, country))| {
                let email = format!(
                    "purchasing@{}.example",
                    name.to_lowercase().replace(' ', "-")
                );
                format!(
                    "({}, {}, {}, {})",
                    index + 1,
                    quoted(name),
                    quoted(country),
                    quoted(&email)
                )
            })
            .collect();
        Self::insert(
            sql,
            "suppliers",
            "id, name, country_code, contact_email",
            &rows,
        );

        const PRODUCTS: i64 = 60;
        let product_words = [
            "Aurora", "Ember", "Fjord", "Halo", "Lumen", "Nova", "Orbit", "Polar", "Quill",
            "Zenith",
        ];
        let product_kinds = [
            "Desk Lamp",
            "Lantern",
            "Camp Light",
            "Motion Sensor",
            "Smart Hub",
            "Floor Lamp",
        ];
        let mut product_price = vec![0.0_f64; PRODUCTS as usize + 1];
        let mut product_rows = Vec::new();
        for id in 1..=PRODUCTS {
            let kind_index = (id as usize) % product_kinds.len();
            let category = [4, 5, 6, 7, 8, 1][kind_index];
            let price = random.money(19, 349);
            product_price[id as usize] = price;
            product_rows.push(format!(
                "({id}, {}, {}, {category}, {}, {price:.2}, {}, {})",
                quoted(&format!("NLC-{:04}", 1_000 + id * 7)),
                quoted(&format!(
                    "{} {} {}",
                    product_words[(id as usize / 6) % product_words.len()],
                    product_kinds[kind_index],
                    ["S", "M", "L", "Pro"][(id as usize) % 4]
                )),
                random.between(1, suppliers.len() as i64),
                quoted(&date(random.between(0, 1_200))),
                i64::from(random.below(10) == 0)
            ));
        }
        Self::insert(
            sql,
            "products",
            "id, sku, name, category_id, supplier_id, list_price_eur, launched_on, discontinued",
            &product_rows,
        );

        let mut inventory_rows = Vec::new();
        let mut inventory_id = 0;
        for product in 1..=PRODUCTS {
            for warehouse in ["AMS", "ATL", "SIN"] {
                inventory_id += 1;
                inventory_rows.push(format!(
                    "({inventory_id}, {product}, {}, {}, {}, {})",
                    quoted(warehouse),
                    random.between(0, 900),
                    random.between(40, 200),
                    quoted(&date(random.between(1_400, 1_460)))
                ));
            }
        }
        Self::insert(
            sql,
            "inventory_levels",
            "id, product_id, warehouse, quantity_on_hand, reorder_point, counted_on",
            &inventory_rows,
        );

        let unreleased = [
            (CANARIES[3].value, "Lantern Mesh 2", 5, "2026-Q2", 189.0),
            ("Project Cobalt Finch", "Hub Mini", 8, "2026-Q3", 79.0),
            ("Project Tern", "Solar Camp Light", 6, "2026-Q3", 59.0),
            ("Project Basalt", "Desk Lamp Studio", 4, "2026-Q4", 249.0),
            ("Project Wren", "Air Quality Sensor", 7, "2027-Q1", 99.0),
            ("Project Kiln", "Ceramic Floor Lamp", 1, "2027-Q1", 329.0),
        ];
        let rows: Vec<String> = unreleased
            .iter()
            .enumerate()
            .map(|(index, (codename, title, category, launch, price))| {
                format!(
                    "({}, {}, {}, {category}, {}, {price:.2})",
                    index + 1,
                    quoted(codename),
                    quoted(title),
                    quoted(launch)
                )
            })
            .collect();
        Self::insert(
            sql,
            "unreleased_products",
            "id, codename, working_title, category_id, target_launch, projected_price_eur",
            &rows,
        );

        const ORDERS: i64 = 400;
        let mut order_rows = Vec::new();
        let mut item_rows = Vec::new();
        let mut invoice_rows = Vec::new();
        let mut payment_rows = Vec::new();
        let mut refund_rows = Vec::new();
        let (mut item_id, mut invoice_id, mut payment_id, mut refund_id) = (0, 0, 0, 0);
        for order in 1..=ORDERS {
            let customer = random.between(1, CUSTOMERS);
            let ordered_on = random.between(365, 1_460);
            let status = random.pick(&[
                "placed",
                "shipped",
                "delivered",
                "delivered",
                "delivered",
                "cancelled",
            ]);
            let mut total = 0.0;
            for _ in 0..random.between(1, 4) {
                item_id += 1;
                let product = random.between(1, PRODUCTS);
                let quantity = random.between(1, 12);
                let discount = [1.0, 1.0, 0.95, 0.9][random.below(4) as usize];
                let unit_price =
                    (product_price[product as usize] * discount * 100.0).round() / 100.0;
                total += unit_price * quantity as f64;
                item_rows.push(format!(
                    "({item_id}, {order}, {product}, {quantity}, {unit_price:.2})"
                ));
            }
            order_rows.push(format!(
                "({order}, {customer}, {}, {}, {}, {total:.2})",
                customer_rep[customer as usize],
                quoted(&date(ordered_on)),
                quoted(status)
            ));
            if status == "cancelled" {
                continue;
            }
            invoice_id += 1;
            let amount = (total * 1.21 * 100.0).round() / 100.0;
            let paid = status == "delivered" && random.below(5) != 0;
            let invoice_status = if paid {
                "paid"
            } else if ordered_on < 1_400 {
                "overdue"
            } else {
                "open"
            };
            invoice_rows.push(format!(
                "({invoice_id}, {order}, {}, {}, {amount:.2}, {})",
                quoted(&date(ordered_on + 1)),
                quoted(&date(ordered_on + 31)),
                quoted(invoice_status)
            ));
            if paid {
                payment_id += 1;
                payment_rows.push(format!(
                    "({payment_id}, {invoice_id}, {}, {amount:.2}, {})",
                    quoted(&date(ordered_on + random.between(5, 40))),
                    quoted(random.pick(&[
                        "bank transfer",
                        "bank transfer",
                        "card",
                        "direct debit"
                    ]))
                ));
                if random.below(8) == 0 {
                    refund_id += 1;
                    let refunded =
                        (amount * [0.1, 0.25, 0.5, 1.0][random.below(4) as usize] * 100.0).round()
                            / 100.0;
                    refund_rows.push(format!(
                        "({refund_id}, {payment_id}, {}, {refunded:.2}, {})",
                        quoted(&date(ordered_on + random.between(30, 70))),
                        quoted(random.pick(&[
                            "damaged in transit",
                            "wrong item",
                            "goodwill",
                            "returned unused"
                        ]))
                    ));
                }
            }
        }
        Self::insert(
            sql,
            "orders",
            "id, customer_id, sales_rep_id, ordered_on, status, total_eur",
            &order_rows,
        );
        Self::insert(
            sql,
            "order_items",
            "id, order_id, product_id, quantity, unit_price_eur",
            &item_rows,
        );
        Self::insert(
            sql,
            "invoices",
            "id, order_id, issued_on, due_on, amount_eur, status",
            &invoice_rows,
        );
        Self::insert(
            sql,
            "payments",
            "id, invoice_id, paid_on, amount_eur, method",
            &payment_rows,
        );
        Self::insert(
            sql,
            "refunds",
            "id, payment_id, refunded_on, amount_eur, reason",
            &refund_rows,
        );

        let mut expense_rows = Vec::new();
        for id in 1..=200_i64 {
            let employee = random.between(1, EMPLOYEES);
            let category = random.pick(&["travel", "meals", "equipment", "training"]);
            let amount = match category {
                "travel" => random.money(80, 1_800),
                "meals" => random.money(12, 240),
                "equipment" => random.money(30, 2_400),
                _ => random.money(150, 3_000),
            };
            expense_rows.push(format!(
                "({id}, {employee}, {}, {}, {}, {amount:.2})",
                employee_department[employee as usize],
                quoted(&date(random.between(1_000, 1_460))),
                quoted(category)
            ));
        }
        Self::insert(
            sql,
            "expenses",
            "id, employee_id, department_id, spent_on, category, amount_eur",
            &expense_rows,
        );

        let accounts = [
            ("Rabobank", CANARIES[1].value, "EUR"),
            ("ING", "NL02INGB0004128735", "EUR"),
            ("Deutsche Bank", "DE12500700100925993301", "EUR"),
            ("Barclays", "GB71BARC20031847123456", "GBP"),
            ("Chase", "US-CHASE-000318842211", "USD"),
            ("DBS", "SG-DBS-0072-118845", "SGD"),
            ("Itau", "BR-ITAU-3321-00998877", "BRL"),
            ("BBVA", "ES7601821234561234567890", "EUR"),
        ];
        let rows: Vec<String> = accounts
            .iter()
            .enumerate()
            .map(|(index, (bank, iban, currency))| {
                format!(
                    "({}, {}, {}, {}, {:.2})",
                    index + 1,
                    quoted(bank),
                    quoted(iban),
                    quoted(currency),
                    random.money(20_000, 4_500_000)
                )
            })
            .collect();
        Self::insert(
            sql,
            "bank_accounts",
            "id, bank_name, iban, currency, balance",
            &rows,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(date(0), "2021-01-01");
        assert_eq!(date(59), "2021-03-01");
        assert_eq!(date(365 + 365 + 365 + 59), "2024-02-29");
    }

    #[test]
    fn every_relation_has_a_team_and_the_script_is_deterministic() {
        assert_eq!(demo_team_of("salaries"), Some("hr"));
        assert_eq!(demo_team_of("ORDERS"), Some("sales"));
        assert_eq!(demo_team_of("nope"), None);
        let script = demo_sql();
        assert_eq!(script, demo_sql());
        for (relation, _) in DEMO_RELATIONS {
            assert!(
                script.contains(&format!("CREATE TABLE {relation} ("))
                    || script.contains(&format!("CREATE VIEW {relation} AS")),
                "{relation}"
            );
        }
        for canary in CANARIES {
            assert_eq!(script.matches(canary.value).count(), 1, "{}", canary.value);
            assert_eq!(demo_team_of(canary.table), Some(canary.team));
        }
    }
}
