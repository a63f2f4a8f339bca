//! Replaying fuzz inputs on the stable toolchain: a target's committed
//! corpus, and one input through a check function that panics on a
//! violation (the same check the cargo-fuzz target runs).

use std::any::Any;
use std::panic::{RefUnwindSafe, catch_unwind};
use std::path::Path;

/// Every file of a corpus directory as `(file name, bytes)`, sorted by name.
pub fn corpus(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((name, std::fs::read(&path)?));
    }
    files.sort();
    Ok(files)
}

/// The message a panic carried (`panic!` with a format or a literal).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Inputs longer than this are shown cut in a failure.
const SHOWN_INPUT_BYTES: usize = 4096;

/// Runs `check` on `input`; a panic becomes an error naming the input
/// (`name`), what the check said, and the input itself (lossy UTF-8).
pub fn run_check(
    name: &str,
    input: &[u8],
    check: impl Fn(&[u8]) + RefUnwindSafe,
) -> Result<(), String> {
    catch_unwind(|| check(input)).map_err(|payload| {
        let shown = String::from_utf8_lossy(&input[..input.len().min(SHOWN_INPUT_BYTES)]);
        format!(
            "{name} fails the check: {}\ninput: {shown:?}",
            panic_message(&*payload)
        )
    })
}

/// One of `seeds` with one to five random edits: a byte changed, a byte
/// removed, a byte inserted, or one of `tokens` spliced in. Shared by the
/// replay tests, so each mutates its corpus the same way.
pub fn mutated(rng: &mut impl rand::Rng, seeds: &[(String, Vec<u8>)], tokens: &[&str]) -> Vec<u8> {
    let mut input = seeds
        .get(rng.gen_range(0..seeds.len().max(1)))
        .map(|(_, bytes)| bytes.clone())
        .unwrap_or_default();
    for _ in 0..rng.gen_range(1..6) {
        let at = rng.gen_range(0..=input.len());
        match rng.gen_range(0..4) {
            0 if at < input.len() => input[at] = rng.r#gen(),
            1 if at < input.len() => {
                input.remove(at);
            }
            2 if !tokens.is_empty() => {
                let token = tokens[rng.gen_range(0..tokens.len())].as_bytes();
                input.splice(at..at, token.iter().copied());
            }
            _ => input.insert(at, rng.r#gen()),
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_check_names_the_input_and_the_violation() {
        assert_eq!(run_check("ok", b"abc", |_| {}), Ok(()));
        let err =
            run_check("seed_7", b"x\xffy", |i| assert!(i.is_empty(), "not empty")).unwrap_err();
        assert!(
            err.starts_with("seed_7 fails the check: not empty"),
            "{err}"
        );
        assert!(err.contains("x\u{fffd}y"), "{err}");
    }

    #[test]
    fn mutations_start_from_a_seed_and_change_it() {
        use rand::SeedableRng;
        let seeds = vec![("a".to_string(), b"0123456789".to_vec())];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let outputs: Vec<Vec<u8>> = (0..50)
            .map(|_| mutated(&mut rng, &seeds, &["<T>"]))
            .collect();
        assert!(
            outputs.iter().any(|o| o.windows(3).any(|w| w == b"<T>")),
            "a token is spliced in"
        );
        assert!(outputs.iter().any(|o| o.len() < 10), "bytes are removed");
        assert!(
            outputs.iter().all(|o| o.len() <= 10 + 5 * 3),
            "at most five edits"
        );
        assert!(
            mutated(&mut rng, &[], &[]).len() <= 5,
            "no seeds: random bytes only"
        );
    }

    #[test]
    fn the_corpus_is_read_whole_and_sorted() {
        let dir = std::env::temp_dir().join(format!("testkit-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b"), b"2").unwrap();
        std::fs::write(dir.join("a"), b"1").unwrap();
        let files = corpus(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            files,
            vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
        );
    }
}
