//! The demo database's tables (with the `--` comments the crawler turns into descriptions) and
//! views.

pub(crate) const SCHEMA: &str = r#"
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

pub(crate) const VIEWS: &str = r#"
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
