//! The hr area: departments, employees, salaries (the sensitive table), performance reviews and
//! time off.

use crate::CANARIES;
use crate::rows::{FIRST_NAMES, LAST_NAMES, Rows, date, quoted};

/// Employees 1..=8 head the departments; employee 42's salary holds the hr canary.
pub(crate) const EMPLOYEES: i64 = 80;

/// Who works where, for the areas written after hr.
pub(crate) struct Staff {
    /// `department_of[employee]`: the employee's department (index 0 unused).
    pub(crate) department_of: Vec<i64>,
}

const DEPARTMENTS: [(&str, &str); 8] = [
    ("Executive", "CC-100"),
    ("Sales", "CC-200"),
    ("Finance", "CC-300"),
    ("People", "CC-400"),
    ("Product", "CC-500"),
    ("Engineering", "CC-600"),
    ("Operations", "CC-700"),
    ("Customer Success", "CC-800"),
];

const TITLES: [&str; 5] = [
    "Analyst",
    "Specialist",
    "Senior Specialist",
    "Lead",
    "Manager",
];

const CITIES: [&str; 6] = [
    "Amsterdam",
    "Berlin",
    "Lisbon",
    "Atlanta",
    "Singapore",
    "Remote",
];

/// Review summaries, from rating 5 down to rating 1.
const SUMMARIES: [&str; 5] = [
    "Consistently exceeds expectations",
    "Solid delivery, grow cross-team visibility",
    "Meets expectations",
    "Needs support on planning",
    "Outstanding year, ready for promotion",
];

/// Writes every hr table.
pub(crate) fn write(rows: &mut Rows<'_>) -> Staff {
    departments(rows);
    let staff = employees(rows);
    salaries(rows);
    performance_reviews(rows, &staff);
    time_off_requests(rows);
    staff
}

fn departments(rows: &mut Rows<'_>) {
    let columns = "id, name, cost_center, head_employee_id";
    rows.table("departments", columns, 1..=8, |_, id| {
        let (name, cost_center) = DEPARTMENTS[id as usize - 1];
        // the head of department N is employee N (employees 1..=8 head departments)
        format!("({id}, {}, {}, {id})", quoted(name), quoted(cost_center))
    });
}

fn employees(rows: &mut Rows<'_>) -> Staff {
    let columns = "id, first_name, last_name, email, department_id, manager_id, job_title, \
                   hired_on, location";
    let mut department_of = vec![0_i64; EMPLOYEES as usize + 1];
    rows.table("employees", columns, 1..=EMPLOYEES, |random, id| {
        let (first, last) = if id == 42 {
            ("Quintessa", "Marlowe-Vance")
        } else {
            (
                FIRST_NAMES[(id as usize * 7) % FIRST_NAMES.len()],
                LAST_NAMES[(id as usize * 11) % LAST_NAMES.len()],
            )
        };
        let department = if id <= 8 { id } else { random.between(1, 8) };
        department_of[id as usize] = department;
        let (manager, title) = match id {
            1 => ("NULL".to_owned(), "Chief Executive Officer".to_owned()),
            2..=8 => (
                "1".to_owned(),
                format!("Head of {}", DEPARTMENTS[id as usize - 1].0),
            ),
            _ => (department.to_string(), random.pick(&TITLES).to_owned()),
        };
        let email = format!(
            "{}.{}{}@northwind-lantern.example",
            first.to_lowercase(),
            last.to_lowercase().replace(['\'', ' '], ""),
            id
        );
        format!(
            "({id}, {}, {}, {}, {department}, {manager}, {}, {}, {})",
            quoted(first),
            quoted(last),
            quoted(&email),
            quoted(&title),
            quoted(&date(random.between(0, 1_200))),
            quoted(random.pick(&CITIES))
        )
    });
    Staff { department_of }
}

fn salaries(rows: &mut Rows<'_>) {
    let columns = "id, employee_id, amount_eur, effective_from, bank_reference";
    rows.table("salaries", columns, 1..=EMPLOYEES, |random, employee| {
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
        format!(
            "({employee}, {employee}, {base}.00, {}, {})",
            quoted(&date(random.between(900, 1_300))),
            quoted(&reference)
        )
    });
}

fn performance_reviews(rows: &mut Rows<'_>, staff: &Staff) {
    let columns = "id, employee_id, reviewer_id, period, rating, summary";
    rows.table("performance_reviews", columns, 1..=120, |random, id| {
        let employee = 9 + (id - 1) % (EMPLOYEES - 8);
        let reviewer = staff.department_of[employee as usize];
        let period = if id <= 72 { "2024-H1" } else { "2024-H2" };
        let rating = random.between(1, 5);
        format!(
            "({id}, {employee}, {reviewer}, {}, {rating}, {})",
            quoted(period),
            quoted(SUMMARIES[(5 - rating) as usize])
        )
    });
}

fn time_off_requests(rows: &mut Rows<'_>) {
    let columns = "id, employee_id, starts_on, ends_on, kind, status";
    rows.table("time_off_requests", columns, 1..=100, |random, id| {
        let start = random.between(1_100, 1_460);
        format!(
            "({id}, {}, {}, {}, {}, {})",
            random.between(1, EMPLOYEES),
            quoted(&date(start)),
            quoted(&date(start + random.between(0, 14))),
            quoted(random.pick(&["vacation", "vacation", "sick", "parental"])),
            quoted(random.pick(&["approved", "approved", "requested", "rejected"]))
        )
    });
}
