//! Every text the gate puts in a request passes here: sanitised (invisible and control
//! characters removed), capped, placeholder-shaped text neutralised, people pseudonymised.

use super::{Conversation, MetadataItem};
use crate::pseudonym::{Pseudonymizer, neutralize};

/// Removes invisible, bidirectional and other format and control characters (keeping `\n` and
/// `\t`) and caps the text at `max_chars` characters, marking a cut with `…`.
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0;
    for c in text.chars() {
        let c = match c {
            '\u{2028}' | '\u{2029}' => '\n',
            '\r' => continue,
            c if is_hidden(c) => continue,
            c => c,
        };
        if count == max_chars {
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Control characters (Cc) other than `\n` and `\t`, and format characters (Cf).
fn is_hidden(c: char) -> bool {
    if c == '\n' || c == '\t' {
        return false;
    }
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

impl Conversation {
    /// People's words (the question, memory): sanitised, capped, placeholder-shaped text
    /// neutralised, pseudonymised. `asker_wrote`: the people named are restorable as written.
    pub(super) fn input_words(
        &mut self,
        text: &str,
        max_chars: usize,
        asker_wrote: bool,
    ) -> String {
        let clean = neutralize(&sanitize(text, max_chars));
        self.pseudonymizer.apply(&clean, asker_wrote)
    }

    /// The model's own words sent back to it: its placeholders stay as they are.
    pub(super) fn model_words(&mut self, text: &str, max_chars: usize) -> String {
        let clean = sanitize(text, max_chars);
        self.pseudonymizer.apply(&clean, false)
    }

    /// Owners of an item: sanitised, capped, each replaced by their placeholder.
    pub(super) fn owners(&mut self, owners: &[String], max_chars: usize) -> Vec<String> {
        owners
            .iter()
            .map(|owner| {
                let clean = sanitize(owner, max_chars);
                self.pseudonymizer.owner(&clean)
            })
            .collect()
    }

    /// A metadata field: sanitised, capped, placeholder-shaped text neutralised, pseudonymised.
    pub(super) fn field(&mut self, text: &str, max_chars: usize) -> String {
        let clean = neutralize(&sanitize(text, max_chars));
        self.pseudonymizer.apply(&clean, false)
    }
}

/// The owners of items are registered before any of the items' text is rendered.
pub(super) fn register_owners(
    pseudonymizer: &mut Pseudonymizer,
    items: &[MetadataItem],
    max_chars: usize,
) {
    for item in items {
        for owner in &item.owners {
            pseudonymizer.register(&sanitize(owner, max_chars));
        }
    }
}
