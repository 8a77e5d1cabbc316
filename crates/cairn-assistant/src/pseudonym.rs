//! People's names and e-mail addresses replaced by placeholders before anything leaves for a
//! model, and put back in its answer only where the asker may see them.
//!
//! - Placeholders are random and drawn afresh for each conversation (`person_` and ten letters
//!   and digits), so a model cannot be asked to enumerate people by number.
//! - A person is known by every form they go by: the address, its local part (and the pieces of
//!   it), the whole name, each of its words. Forms are matched as literals after Unicode
//!   normalisation (NFC) and case folding, on whole words, so `ZOË ÅNGSTRÖM` is Zoë Ångström
//!   and `jöhn.doe@example.com` is one address, never `jö` and a placeholder.
//! - Any other e-mail address in the text becomes a person of its own.
//! - A placeholder is restored only when it was sent in this conversation and its person was
//!   made restorable ([`Pseudonymizer::allow_restore`]), and then to the form the asker may see.
//! - Text shaped like a placeholder in input ([`neutralize`]) is changed so it cannot stand for
//!   anyone.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;
use unicode_normalization::UnicodeNormalization;

const PREFIX: &str = "person_";
const TOKEN_LEN: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

#[derive(Clone)]
struct Person {
    placeholder: String,
    /// Put in a request of this conversation.
    sent: bool,
    /// What the placeholder is restored to, when the asker may see this person.
    shown: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Address,
    Word,
}

/// Replaces people by placeholders and puts back those the asker may see. Disabled, it changes
/// nothing.
#[derive(Clone, Default)]
pub struct Pseudonymizer {
    enabled: bool,
    people: Vec<Person>,
    by_placeholder: HashMap<String, usize>,
    /// Folded form -> (person, kind of form).
    forms: HashMap<String, (usize, Form)>,
    /// Folded forms in the matcher's pattern order.
    patterns: Vec<String>,
    /// Built from `patterns` when first needed after a change.
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("enabled", &self.enabled)
            .field("people", &self.people.len())
            .finish()
    }
}

impl Pseudonymizer {
    pub fn new(enabled: bool) -> Pseudonymizer {
        Pseudonymizer {
            enabled,
            ..Pseudonymizer::default()
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Makes a person known (a name, an address, or `Name <address>`): every form of them is
    /// replaced from now on. The same person given twice (by address or whole name) is one.
    pub fn register(&mut self, person: &str) -> Option<usize> {
        if !self.enabled {
            return None;
        }
        let person: String = person.trim().nfc().collect();
        let mut forms: Vec<(String, Form)> = Vec::new();
        let mut identifying: Vec<String> = Vec::new();
        for (start, end) in find_emails(&person) {
            let address = &person[start..end];
            let folded = fold(address);
            identifying.push(folded.clone());
            forms.push((folded, Form::Address));
            let local = address.split('@').next().unwrap_or_default();
            forms.push((fold(local), Form::Word));
            for piece in local.split(['.', '_', '-', '+']) {
                if piece.chars().count() >= 3 {
                    forms.push((fold(piece), Form::Word));
                }
            }
        }
        let name: String = strip_emails(&person)
            .chars()
            .map(|c| {
                if matches!(c, '<' | '>' | '(' | ')' | '"' | ',' | ';' | '[' | ']') {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if !name.contains('@') && name.chars().count() >= 2 {
            identifying.push(fold(&name));
            forms.push((fold(&name), Form::Word));
            for part in name.split([' ', '-']) {
                if part.chars().count() >= 2 {
                    forms.push((fold(part), Form::Word));
                }
            }
        }
        forms.retain(|(form, _)| form.chars().count() >= 2);
        if forms.is_empty() {
            return None;
        }
        let index = match identifying
            .iter()
            .find_map(|form| self.forms.get(form).map(|(index, _)| *index))
        {
            Some(index) => index,
            None => self.new_person(),
        };
        for (form, kind) in forms {
            if !self.forms.contains_key(&form) {
                self.forms.insert(form.clone(), (index, kind));
                self.patterns.push(form);
                self.matcher = None;
            }
        }
        Some(index)
    }

    /// Registers a person the asker may see, restored as `form` (unless already restorable as
    /// another form they may see).
    pub fn allow_restore(&mut self, form: &str) {
        if let Some(index) = self.register(form) {
            self.people[index]
                .shown
                .get_or_insert_with(|| form.trim().to_string());
        }
    }

    /// An owner of a resource the asker may see: registered, restorable, and its placeholder.
    pub fn owner(&mut self, owner: &str) -> String {
        match self.register(owner) {
            Some(index) => {
                let person = &mut self.people[index];
                person.shown.get_or_insert_with(|| owner.trim().to_string());
                person.sent = true;
                person.placeholder.clone()
            }
            None => self.apply(owner, false),
        }
    }

    /// Replaces every form of every known person in `text`, and every other e-mail address.
    /// With `asker_wrote`, the forms found become restorable as written (the asker knows them).
    pub fn apply(&mut self, text: &str, asker_wrote: bool) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let text: String = text.nfc().collect();
        for (start, end) in find_emails(&text) {
            if !self.forms.contains_key(&fold(&text[start..end])) {
                self.register(&text[start..end]);
            }
        }
        if self.patterns.is_empty() {
            return text;
        }
        if self.matcher.is_none() {
            self.matcher = AhoCorasick::new(&self.patterns).ok();
        }
        let Some(matcher) = &self.matcher else {
            return text;
        };
        let (folded, starts) = fold_with_offsets(&text);
        let original = |folded_at: usize| {
            starts
                .binary_search_by_key(&folded_at, |(folded, _)| *folded)
                .ok()
                .map(|index| starts[index].1)
        };
        let mut found = Vec::new();
        for matched in matcher.find_overlapping_iter(&folded) {
            let (Some(start), Some(end)) = (original(matched.start()), original(matched.end()))
            else {
                continue;
            };
            let (person, kind) = self.forms[&self.patterns[matched.pattern().as_usize()]];
            if stands_alone(&text, start, end, kind) {
                found.push((start, end, person));
            }
        }
        // Leftmost first, and the longest of those starting at one place.
        found.sort_by_key(|(start, end, _)| (*start, std::cmp::Reverse(*end)));
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end, index) in found {
            if start < copied {
                continue;
            }
            out.push_str(&text[copied..start]);
            let person = &mut self.people[index];
            if asker_wrote {
                person
                    .shown
                    .get_or_insert_with(|| text[start..end].to_string());
            }
            person.sent = true;
            out.push_str(&person.placeholder);
            copied = end;
        }
        out.push_str(&text[copied..]);
        out
    }

    /// Puts back the placeholders sent in this conversation whose people the asker may see;
    /// any other placeholder stays as it is.
    pub fn restore(&self, text: &str) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(PREFIX) {
            let after = &rest[at + PREFIX.len()..];
            let token_len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
            let alone = rest[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !is_word_char(c));
            let placeholder = &rest[at..at + PREFIX.len() + token_len];
            let shown = self
                .by_placeholder
                .get(placeholder)
                .map(|index| &self.people[*index])
                .filter(|person| person.sent && alone)
                .and_then(|person| person.shown.as_deref());
            out.push_str(&rest[..at]);
            out.push_str(shown.unwrap_or(placeholder));
            rest = &after[token_len..];
        }
        out.push_str(rest);
        out
    }

    fn new_person(&mut self) -> usize {
        let placeholder = loop {
            let candidate = random_placeholder();
            if !self.by_placeholder.contains_key(&candidate) {
                break candidate;
            }
        };
        self.by_placeholder
            .insert(placeholder.clone(), self.people.len());
        self.people.push(Person {
            placeholder,
            sent: false,
            shown: None,
        });
        self.people.len() - 1
    }
}

/// `person_` and ten random letters and digits, at least one a digit.
fn random_placeholder() -> String {
    loop {
        let mut bytes = [0u8; TOKEN_LEN];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        let token: String = bytes
            .iter()
            .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
            .collect();
        if token.bytes().any(|byte| byte.is_ascii_digit()) {
            return format!("{PREFIX}{token}");
        }
    }
}

/// Text shaped like a placeholder (`person_` and letters and digits, at least one a digit, in
/// any case) written by people rather than the model: its underscore becomes a hyphen, so it
/// can never be restored to anyone.
pub fn neutralize(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(offset) = lower[from..].find(PREFIX) {
        let at = from + offset;
        let token: &str = {
            let after = &text[at + PREFIX.len()..];
            let len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
            &after[..len]
        };
        let alone = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word_char(c));
        if alone && token.bytes().any(|byte| byte.is_ascii_digit()) {
            let underscore = at + PREFIX.len() - 1;
            out.push_str(&text[copied..underscore]);
            out.push('-');
            copied = underscore + 1;
        }
        from = at + PREFIX.len();
    }
    out.push_str(&text[copied..]);
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether a match at `start..end` of `text` is a whole word (or a whole address).
fn stands_alone(text: &str, start: usize, end: usize, form: Form) -> bool {
    let before = text[..start].chars().next_back();
    let mut after = text[end..].chars();
    let next = after.next();
    match form {
        Form::Word => {
            before.is_none_or(|c| !is_word_char(c)) && next.is_none_or(|c| !is_word_char(c))
        }
        Form::Address => {
            let before_ok = before.is_none_or(|c| !is_local_char(c));
            let after_ok = match next {
                None => true,
                Some('.') => after.next().is_none_or(|c| !c.is_alphanumeric()),
                Some(c) => !is_domain_char(c),
            };
            before_ok && after_ok
        }
    }
}

/// Unicode case folding of one character (lowercase, and the folds lowercase misses).
fn fold_char(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        c => out.extend(c.to_lowercase()),
    }
}

/// `text` normalised (NFC) and folded, for comparing forms.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfc() {
        fold_char(c, &mut out);
    }
    out
}

/// `text` folded, with each original character's (folded offset, original offset), and a last
/// pair for the ends.
fn fold_with_offsets(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut folded = String::with_capacity(text.len());
    let mut starts = Vec::with_capacity(text.len() + 1);
    for (at, c) in text.char_indices() {
        starts.push((folded.len(), at));
        fold_char(c, &mut folded);
    }
    starts.push((folded.len(), text.len()));
    (folded, starts)
}

fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '\'')
}

fn is_domain_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-')
}

/// Byte ranges of the e-mail addresses in `text` (letters of any script).
pub(crate) fn find_emails(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find('@') {
        let at = search_from + offset;
        let mut start = at;
        for (index, c) in text[..at].char_indices().rev() {
            if !is_local_char(c) {
                break;
            }
            start = index;
        }
        while start < at && matches!(text.as_bytes()[start], b'.' | b'\'') {
            start += 1;
        }
        let mut end = at + 1;
        for (index, c) in text[at + 1..].char_indices() {
            if !is_domain_char(c) {
                break;
            }
            end = at + 1 + index + c.len_utf8();
        }
        while end > at + 1 && matches!(text.as_bytes()[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &text[at + 1..end];
        let previous_end = found.last().map_or(0, |(_, end)| *end);
        if start < at && start >= previous_end && domain.contains('.') && !domain.starts_with('.') {
            found.push((start, end));
            search_from = end;
        } else {
            search_from = at + 1;
        }
    }
    found
}

fn strip_emails(text: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end) in find_emails(text) {
        out.push_str(&text[last..start]);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> Vec<&str> {
        text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|word| word.starts_with(PREFIX))
            .collect()
    }

    #[test]
    fn finds_emails_in_any_script() {
        let text = "mail alice.b@shop.example, jöhn.doe@exämple.com. not me@localhost or @foo.com";
        let found: Vec<&str> = find_emails(text)
            .iter()
            .map(|(s, e)| &text[*s..*e])
            .collect();
        assert_eq!(found, vec!["alice.b@shop.example", "jöhn.doe@exämple.com"]);
    }

    #[test]
    fn every_form_of_a_person_is_one_placeholder() {
        let mut p = Pseudonymizer::new(true);
        let zoe = p.owner("Zoë Ångström <zoë@exämple.com>");
        let text = p.apply(
            "ZOË ÅNGSTRÖM, Zoë, ångström, ZOË@EXÄMPLE.COM, zoë; jöhn.doe@example.com, \
             Zoe\u{308} and zoëx stay",
            false,
        );
        assert_eq!(
            text.matches(zoe.as_str()).count(),
            6,
            "{text} (zoë decomposed is the same)"
        );
        assert!(text.ends_with("zoëx stay"), "{text}");
        assert!(!text.contains("jö") && !text.contains("doe"), "{text}");
        assert_eq!(placeholders(&text).len(), 7);
        // The local part and its pieces alone.
        p.register("jöhn.doe@example.com");
        let text = p.apply("jöhn.doe, JÖHN and doe", false);
        assert_eq!(placeholders(&text).len(), 3, "{text}");
        assert!(!text.to_lowercase().contains("jöhn"), "{text}");
    }

    #[test]
    fn placeholders_are_random_per_conversation() {
        let mut first = Pseudonymizer::new(true);
        let mut second = Pseudonymizer::new(true);
        let a = first.owner("Alice Smith <alice@shop.example>");
        let b = second.owner("Alice Smith <alice@shop.example>");
        assert_ne!(a, b);
        assert_eq!(a.len(), PREFIX.len() + TOKEN_LEN);
        assert_ne!(a, "person_1");
    }

    #[test]
    fn restores_only_what_was_sent_and_may_be_seen() {
        let mut p = Pseudonymizer::new(true);
        p.register("Hidden Member <hidden@shop.example>");
        p.allow_restore("Ada Admin <ada@shop.example>");
        let owner = p.owner("bob@shop.example");
        let hidden = p.apply("ask Hidden", false);
        let hidden = placeholders(&hidden)[0].to_string();
        let ada_index = p.register("ada@shop.example").unwrap();
        let ada = p.people[ada_index].placeholder.clone();
        let text = format!("{owner}, {hidden}, {ada}, person_1, x{owner}");
        assert_eq!(
            p.restore(&text),
            format!("bob@shop.example, {hidden}, {ada}, person_1, x{owner}"),
            "Ada may be seen but was never sent"
        );
        // What the asker wrote comes back as written.
        let asked = p.apply("is HIDDEN here?", true);
        assert_eq!(p.restore(&asked), "is HIDDEN here?");
    }

    #[test]
    fn placeholder_shaped_input_is_neutralised() {
        assert_eq!(
            neutralize("contact person_6, PERSON_k2x or person_abc; xperson_7"),
            "contact person-6, PERSON-k2x or person_abc; xperson_7"
        );
    }

    #[test]
    fn disabled_changes_nothing() {
        let mut p = Pseudonymizer::new(false);
        assert_eq!(p.owner("alice@shop.example"), "alice@shop.example");
        assert_eq!(p.apply("alice@shop.example", true), "alice@shop.example");
    }
}
