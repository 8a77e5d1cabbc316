//! The product area: categories, suppliers, products, inventory levels and unreleased products
//! (the sensitive table).

use crate::CANARIES;
use crate::rows::{Rows, date, quoted};

const SUPPLIERS: [(&str, &str); 12] = [
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

/// The products' list prices, for the order lines.
pub(crate) struct Catalogue {
    /// `price_of[product]`: the list price in euros (index 0 unused).
    pub(crate) price_of: Vec<f64>,
}

impl Catalogue {
    pub(crate) const PRODUCTS: i64 = 60;
}

/// Writes every product table.
pub(crate) fn write(rows: &mut Rows<'_>) -> Catalogue {
    product_categories(rows);
    suppliers(rows);
    let catalogue = products(rows);
    inventory_levels(rows);
    unreleased_products(rows);
    catalogue
}

fn product_categories(rows: &mut Rows<'_>) {
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
    rows.table(
        "product_categories",
        "id, name, parent_id",
        1..=8,
        |_, id| {
            let (name, parent) = categories[id as usize - 1];
            format!("({id}, {}, {parent})", quoted(name))
        },
    );
}

fn suppliers(rows: &mut Rows<'_>) {
    let count = SUPPLIERS.len() as i64;
    let columns = "id, name, country_code, contact_email";
    rows.table("suppliers", columns, 1..=count, |_, id| {
        let (name, country) = SUPPLIERS[id as usize - 1];
        let email = format!(
            "purchasing@{}.example",
            name.to_lowercase().replace(' ', "-")
        );
        format!(
            "({id}, {}, {}, {})",
            quoted(name),
            quoted(country),
            quoted(&email)
        )
    });
}

fn products(rows: &mut Rows<'_>) -> Catalogue {
    let product_words = [
        "Aurora", "Ember", "Fjord", "Halo", "Lumen", "Nova", "Orbit", "Polar", "Quill", "Zenith",
    ];
    let product_kinds = [
        "Desk Lamp",
        "Lantern",
        "Camp Light",
        "Motion Sensor",
        "Smart Hub",
        "Floor Lamp",
    ];
    let columns =
        "id, sku, name, category_id, supplier_id, list_price_eur, launched_on, discontinued";
    let mut price_of = vec![0.0_f64; Catalogue::PRODUCTS as usize + 1];
    rows.table(
        "products",
        columns,
        1..=Catalogue::PRODUCTS,
        |random, id| {
            let kind_index = (id as usize) % product_kinds.len();
            let category = [4, 5, 6, 7, 8, 1][kind_index];
            let price = random.money(19, 349);
            price_of[id as usize] = price;
            format!(
                "({id}, {}, {}, {category}, {}, {price:.2}, {}, {})",
                quoted(&format!("NLC-{:04}", 1_000 + id * 7)),
                quoted(&format!(
                    "{} {} {}",
                    product_words[(id as usize / 6) % product_words.len()],
                    product_kinds[kind_index],
                    ["S", "M", "L", "Pro"][(id as usize) % 4]
                )),
                random.between(1, SUPPLIERS.len() as i64),
                quoted(&date(random.between(0, 1_200))),
                i64::from(random.below(10) == 0)
            )
        },
    );
    Catalogue { price_of }
}

/// One count per product and warehouse, product by product.
fn inventory_levels(rows: &mut Rows<'_>) {
    let warehouses = ["AMS", "ATL", "SIN"];
    let columns = "id, product_id, warehouse, quantity_on_hand, reorder_point, counted_on";
    let counts = Catalogue::PRODUCTS * warehouses.len() as i64;
    rows.table("inventory_levels", columns, 1..=counts, |random, id| {
        let product = (id - 1) / 3 + 1;
        format!(
            "({id}, {product}, {}, {}, {}, {})",
            quoted(warehouses[((id - 1) % 3) as usize]),
            random.between(0, 900),
            random.between(40, 200),
            quoted(&date(random.between(1_400, 1_460)))
        )
    });
}

fn unreleased_products(rows: &mut Rows<'_>) {
    let unreleased = [
        (CANARIES[3].value, "Lantern Mesh 2", 5, "2026-Q2", 189.0),
        ("Project Cobalt Finch", "Hub Mini", 8, "2026-Q3", 79.0),
        ("Project Tern", "Solar Camp Light", 6, "2026-Q3", 59.0),
        ("Project Basalt", "Desk Lamp Studio", 4, "2026-Q4", 249.0),
        ("Project Wren", "Air Quality Sensor", 7, "2027-Q1", 99.0),
        ("Project Kiln", "Ceramic Floor Lamp", 1, "2027-Q1", 329.0),
    ];
    let columns = "id, codename, working_title, category_id, target_launch, projected_price_eur";
    rows.table("unreleased_products", columns, 1..=6, |_, id| {
        let (codename, title, category, launch, price) = unreleased[id as usize - 1];
        format!(
            "({id}, {}, {}, {category}, {}, {price:.2})",
            quoted(codename),
            quoted(title),
            quoted(launch)
        )
    });
}
