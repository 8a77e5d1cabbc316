//! The sales area: regions, sales reps, customers, customer contacts (the sensitive table),
//! orders and their lines. Orders are billed by the finance area as they are written.

use crate::CANARIES;
use crate::finance::Billing;
use crate::product::Catalogue;
use crate::rows::{FIRST_NAMES, Generator, LAST_NAMES, Rows, date, quoted};

const SALES_REPS: i64 = 15;
const CUSTOMERS: i64 = 120;
const ORDERS: i64 = 400;

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

/// The accounts, for the orders.
pub(crate) struct Accounts {
    /// `rep_of[customer]`: the customer's sales rep (index 0 unused).
    rep_of: Vec<i64>,
}

const REGIONS: [(&str, &str); 6] = [
    ("EMEA North", "DE"),
    ("EMEA South", "ES"),
    ("Americas East", "US"),
    ("Americas West", "US"),
    ("APAC", "SG"),
    ("LATAM", "BR"),
];

pub(crate) fn regions(rows: &mut Rows<'_>) {
    rows.table("regions", "id, name, country_code", 1..=6, |_, id| {
        let (name, country) = REGIONS[id as usize - 1];
        format!("({id}, {}, {})", quoted(name), quoted(country))
    });
}

/// Sales reps, customers and their contacts.
pub(crate) fn accounts(rows: &mut Rows<'_>) -> Accounts {
    sales_reps(rows);
    let accounts = customers(rows);
    customer_contacts(rows);
    accounts
}

fn sales_reps(rows: &mut Rows<'_>) {
    let columns = "id, employee_id, region_id, quota_eur, started_on";
    rows.table("sales_reps", columns, 1..=SALES_REPS, |random, id| {
        // the reps are the sales department's first employees after the heads
        format!(
            "({id}, {}, {}, {}.00, {})",
            8 + id,
            1 + (id - 1) % 6,
            random.between(400, 1_500) * 1_000,
            quoted(&date(random.between(0, 900)))
        )
    });
}

fn customers(rows: &mut Rows<'_>) -> Accounts {
    let columns = "id, name, segment, region_id, sales_rep_id, created_on";
    let mut rep_of = vec![0_i64; CUSTOMERS as usize + 1];
    rows.table("customers", columns, 1..=CUSTOMERS, |random, id| {
        let name = format!(
            "{} {}",
            COMPANY_WORDS[(id as usize * 3) % COMPANY_WORDS.len()],
            COMPANY_SUFFIXES[(id as usize * 7 + id as usize / 20) % COMPANY_SUFFIXES.len()]
        );
        let rep = random.between(1, SALES_REPS);
        rep_of[id as usize] = rep;
        format!(
            "({id}, {}, {}, {}, {rep}, {})",
            quoted(&format!(
                "{name} {}",
                ["BV", "GmbH", "Inc.", "Ltd", "SA", "Pte"][id as usize % 6]
            )),
            quoted(random.pick(&["enterprise", "mid-market", "mid-market", "small business"])),
            1 + (rep - 1) % 6,
            quoted(&date(random.between(0, 1_000)))
        )
    });
    Accounts { rep_of }
}

fn customer_contacts(rows: &mut Rows<'_>) {
    let columns = "id, customer_id, full_name, email, phone";
    rows.table("customer_contacts", columns, 1..=150, |random, id| {
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
        format!(
            "({id}, {customer}, {}, {}, {})",
            quoted(&full_name),
            quoted(&email),
            quoted(&format!(
                "+31 20 {:03} {:04}",
                random.below(1_000),
                random.below(10_000)
            ))
        )
    });
}

/// Orders and their lines; every order not cancelled is billed (invoices, payments, refunds).
pub(crate) fn orders(rows: &mut Rows<'_>, accounts: &Accounts, catalogue: &Catalogue) {
    let random = &mut rows.random;
    let mut order_rows = Vec::new();
    let mut item_rows = Vec::new();
    let mut billing = Billing::default();
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
        let total = order_lines(random, catalogue, order, &mut item_rows);
        order_rows.push(format!(
            "({order}, {customer}, {}, {}, {}, {total:.2})",
            accounts.rep_of[customer as usize],
            quoted(&date(ordered_on)),
            quoted(status)
        ));
        if status != "cancelled" {
            billing.bill(random, order, ordered_on, status, total);
        }
    }
    rows.insert(
        "orders",
        "id, customer_id, sales_rep_id, ordered_on, status, total_eur",
        &order_rows,
    );
    rows.insert(
        "order_items",
        "id, order_id, product_id, quantity, unit_price_eur",
        &item_rows,
    );
    billing.write(rows);
}

/// One to four lines of `order` (numbered after those in `item_rows`); returns the order's total.
fn order_lines(
    random: &mut Generator,
    catalogue: &Catalogue,
    order: i64,
    item_rows: &mut Vec<String>,
) -> f64 {
    let mut total = 0.0;
    for _ in 0..random.between(1, 4) {
        let item_id = item_rows.len() + 1;
        let product = random.between(1, Catalogue::PRODUCTS);
        let quantity = random.between(1, 12);
        let discount = [1.0, 1.0, 0.95, 0.9][random.below(4) as usize];
        let unit_price = (catalogue.price_of[product as usize] * discount * 100.0).round() / 100.0;
        total += unit_price * quantity as f64;
        item_rows.push(format!(
            "({item_id}, {order}, {product}, {quantity}, {unit_price:.2})"
        ));
    }
    total
}
