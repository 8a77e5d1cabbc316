//! Input rules: every text field is capped, names are non-empty and free of control characters.

use crate::error::ValidationError;

pub const NAME_MAX: usize = 200;
pub const PATH_MAX: usize = 1000;
pub const DESCRIPTION_MAX: usize = 20_000;
pub const LABEL_MAX: usize = 100;
pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 1024;
pub const LIST_MAX: usize = 50;

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// A trimmed, non-empty single-line name of at most `NAME_MAX` characters.
pub fn name(field: &str, value: &str) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > NAME_MAX {
        return Err(ValidationError::new(
            field,
            format!("must be at most {NAME_MAX} characters"),
        ));
    }
    if has_control(trimmed) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_string())
}

/// A short label such as a tag, team or token name: a name of at most `LABEL_MAX` characters.
pub fn label(field: &str, value: &str) -> Result<String, ValidationError> {
    let cleaned = name(field, value)?;
    if cleaned.chars().count() > LABEL_MAX {
        return Err(ValidationError::new(
            field,
            format!("must be at most {LABEL_MAX} characters"),
        ));
    }
    Ok(cleaned)
}

/// Free text (descriptions): may be empty, may span lines, capped at `DESCRIPTION_MAX`.
pub fn text(field: &str, value: &str) -> Result<String, ValidationError> {
    if value.chars().count() > DESCRIPTION_MAX {
        return Err(ValidationError::new(
            field,
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_string())
}

/// A lower-cased e-mail address with one `@` and something on each side.
pub fn email(field: &str, value: &str) -> Result<String, ValidationError> {
    let trimmed = value.trim().to_lowercase();
    if trimmed.is_empty() || trimmed.len() > EMAIL_MAX || has_control(&trimmed) {
        return Err(ValidationError::new(
            field,
            "must be an e-mail address of at most 254 characters",
        ));
    }
    let mut parts = trimmed.split('@');
    let (local, domain, rest) = (parts.next(), parts.next(), parts.next());
    match (local, domain, rest) {
        (Some(local), Some(domain), None)
            if !local.is_empty()
                && !domain.is_empty()
                && !trimmed.contains(char::is_whitespace) =>
        {
            Ok(trimmed)
        }
        _ => Err(ValidationError::new(field, "must be an e-mail address")),
    }
}

/// A password long enough to resist guessing, short enough not to burden the hasher.
pub fn password(field: &str, value: &str) -> Result<(), ValidationError> {
    let length = value.chars().count();
    if length < PASSWORD_MIN {
        return Err(ValidationError::new(
            field,
            format!("must be at least {PASSWORD_MIN} characters"),
        ));
    }
    if length > PASSWORD_MAX {
        return Err(ValidationError::new(
            field,
            format!("must be at most {PASSWORD_MAX} characters"),
        ));
    }
    Ok(())
}

/// A list of labels: capped in length, each a valid label, duplicates removed, order kept.
pub fn labels(field: &str, values: &[String]) -> Result<Vec<String>, ValidationError> {
    if values.len() > LIST_MAX {
        return Err(ValidationError::new(
            field,
            format!("must have at most {LIST_MAX} entries"),
        ));
    }
    let mut cleaned: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let value = label(field, value)?;
        if !cleaned.contains(&value) {
            cleaned.push(value);
        }
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_must_not_be_empty() {
        assert_eq!(name("name", "  orders ").unwrap(), "orders");
        assert_eq!(name("name", "   ").unwrap_err().field, "name");
        assert!(name("name", &"x".repeat(NAME_MAX + 1)).is_err());
        assert!(name("name", "a\u{0}b").is_err());
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            email("email", "Ada@Example.COM").unwrap(),
            "ada@example.com"
        );
        for bad in ["", "ada", "@x", "ada@", "a@b@c", "a b@c"] {
            assert!(email("email", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn labels_drop_duplicates_and_cap_count() {
        let values = vec!["pii".to_string(), "pii".to_string(), "gold".to_string()];
        assert_eq!(labels("tags", &values).unwrap(), vec!["pii", "gold"]);
        let many: Vec<String> = (0..=LIST_MAX).map(|i| i.to_string()).collect();
        assert!(labels("tags", &many).is_err());
    }

    #[test]
    fn text_is_capped() {
        assert!(text("description", &"d".repeat(DESCRIPTION_MAX)).is_ok());
        assert!(text("description", &"d".repeat(DESCRIPTION_MAX + 1)).is_err());
        assert!(text("description", "line one\nline two").is_ok());
    }
}
