//! The finance area: invoices, payments and refunds (billed per order), expenses and the
//! company's bank accounts (the sensitive table).

use crate::CANARIES;
use crate::hr::{EMPLOYEES, Staff};
use crate::rows::{Generator, Rows, date, quoted};

/// The invoices, payments and refunds of the orders billed so far.
#[derive(Default)]
pub(crate) struct Billing {
    invoices: Vec<String>,
    payments: Vec<String>,
    refunds: Vec<String>,
}

impl Billing {
    /// Invoices an order (not cancelled) of `total` euros before tax placed on day `ordered_on`;
    /// most delivered orders are paid, and some payments partly refunded.
    pub(crate) fn bill(
        &mut self,
        random: &mut Generator,
        order: i64,
        ordered_on: i64,
        status: &str,
        total: f64,
    ) {
        let invoice_id = self.invoices.len() + 1;
        let amount = (total * 1.21 * 100.0).round() / 100.0;
        let paid = status == "delivered" && random.below(5) != 0;
        let invoice_status = if paid {
            "paid"
        } else if ordered_on < 1_400 {
            "overdue"
        } else {
            "open"
        };
        self.invoices.push(format!(
            "({invoice_id}, {order}, {}, {}, {amount:.2}, {})",
            quoted(&date(ordered_on + 1)),
            quoted(&date(ordered_on + 31)),
            quoted(invoice_status)
        ));
        if paid {
            self.pay(random, invoice_id, ordered_on, amount);
        }
    }

    fn pay(&mut self, random: &mut Generator, invoice_id: usize, ordered_on: i64, amount: f64) {
        let payment_id = self.payments.len() + 1;
        self.payments.push(format!(
            "({payment_id}, {invoice_id}, {}, {amount:.2}, {})",
            quoted(&date(ordered_on + random.between(5, 40))),
            quoted(random.pick(&["bank transfer", "bank transfer", "card", "direct debit"]))
        ));
        if random.below(8) == 0 {
            let refund_id = self.refunds.len() + 1;
            let refunded =
                (amount * [0.1, 0.25, 0.5, 1.0][random.below(4) as usize] * 100.0).round() / 100.0;
            self.refunds.push(format!(
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

    /// Writes the invoices, payments and refunds.
    pub(crate) fn write(self, rows: &mut Rows<'_>) {
        rows.insert(
            "invoices",
            "id, order_id, issued_on, due_on, amount_eur, status",
            &self.invoices,
        );
        rows.insert(
            "payments",
            "id, invoice_id, paid_on, amount_eur, method",
            &self.payments,
        );
        rows.insert(
            "refunds",
            "id, payment_id, refunded_on, amount_eur, reason",
            &self.refunds,
        );
    }
}

/// Writes the expenses and the bank accounts (the orders' billing is written with the orders).
pub(crate) fn write(rows: &mut Rows<'_>, staff: &Staff) {
    expenses(rows, staff);
    bank_accounts(rows);
}

fn expenses(rows: &mut Rows<'_>, staff: &Staff) {
    let columns = "id, employee_id, department_id, spent_on, category, amount_eur";
    rows.table("expenses", columns, 1..=200, |random, id| {
        let employee = random.between(1, EMPLOYEES);
        let category = random.pick(&["travel", "meals", "equipment", "training"]);
        let amount = match category {
            "travel" => random.money(80, 1_800),
            "meals" => random.money(12, 240),
            "equipment" => random.money(30, 2_400),
            _ => random.money(150, 3_000),
        };
        format!(
            "({id}, {employee}, {}, {}, {}, {amount:.2})",
            staff.department_of[employee as usize],
            quoted(&date(random.between(1_000, 1_460))),
            quoted(category)
        )
    });
}

fn bank_accounts(rows: &mut Rows<'_>) {
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
    let columns = "id, bank_name, iban, currency, balance";
    rows.table("bank_accounts", columns, 1..=8, |random, id| {
        let (bank, iban, currency) = accounts[id as usize - 1];
        format!(
            "({id}, {}, {}, {}, {:.2})",
            quoted(bank),
            quoted(iban),
            quoted(currency),
            random.money(20_000, 4_500_000)
        )
    });
}
