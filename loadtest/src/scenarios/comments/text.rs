//! The benchmark document: Markdown-like ASCII of a given size (so UTF-16, byte and yrs
//! offsets agree), the same for the same seed.

use rand::Rng;
use rand::rngs::StdRng;

const WORDS: &str = "the service replica latency budget owner review draft migration index cache rollout \
                     quorum retry window shard and of to is a **must** `config` we";

/// `bytes` of sections holding paragraphs, lists and code blocks.
pub fn markdown(bytes: usize, rng: &mut StdRng) -> String {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let word = |rng: &mut StdRng| words[rng.random_range(0..words.len())];
    let mut s = String::with_capacity(bytes + 4096);
    let mut section = 0;
    while s.len() < bytes {
        section += 1;
        s.push_str(&format!("## Section {section}\n\n"));
        for _ in 0..rng.random_range(2..5) {
            for w in 0..rng.random_range(40..120) {
                s.push_str(word(rng));
                s.push(if w % 14 == 13 { '\n' } else { ' ' });
            }
            s.push_str("end.\n\n");
        }
        if section % 3 == 0 {
            for item in 0..rng.random_range(3..7) {
                s.push_str(&format!("- item {item}: {}\n", word(rng)));
            }
            s.push('\n');
        }
        if section % 5 == 0 {
            s.push_str("```rust\nfn main() {\n    println!(\"section\");\n}\n```\n\n");
        }
    }
    s.truncate(bytes);
    s
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn markdown_has_the_size_asked_is_ascii_and_repeats_for_a_seed() {
        let a = markdown(100_000, &mut StdRng::seed_from_u64(7));
        assert_eq!(a.len(), 100_000);
        assert!(a.is_ascii());
        assert!(a.starts_with("## Section 1\n\n"));
        assert_eq!(a, markdown(100_000, &mut StdRng::seed_from_u64(7)));
    }
}
