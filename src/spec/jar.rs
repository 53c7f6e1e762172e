//! What a local jar holds, read from its zip central directory: enough to refuse a file that is
//! not a jar, or one that lacks the class the spec names, before anything is uploaded.
//!
//! Flink only finds out at `POST /jars/:id/run`, after an upgrade has already stopped the old
//! job. Only the directory at the end of the archive is read (bounded, never the entries), so this
//! costs a few reads even for a large fat jar. Owns no diagnostics: `resolve` words them.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The largest central directory read: some 2 million entries, far beyond any job jar.
const MAX_DIRECTORY_BYTES: u64 = 128 << 20;
/// The end-of-central-directory record and the longest comment it may carry.
const EOCD_LEN: usize = 22;
const MAX_TAIL: u64 = (EOCD_LEN + 0xffff) as u64;

/// What the archive lists.
#[derive(Debug, Default)]
pub struct Listing {
    pub has_manifest: bool,
    /// Class names (`com.example.Main`) of the `.class` entries at the archive's root.
    pub classes: BTreeSet<String>,
    /// Whether it nests jars under `lib/`, which Flink adds to the class path (so a class may be
    /// there instead).
    pub nests_jars: bool,
}

/// Why a file cannot be a job jar.
#[derive(Debug, thiserror::Error)]
pub enum JarError {
    #[error("it is not a zip archive ({0})")]
    NotZip(&'static str),
    #[error("its zip directory is damaged ({0})")]
    Damaged(&'static str),
    #[error("its zip directory is larger than 128 MiB")]
    TooLarge,
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
}

/// List the archive at `path` (`len` bytes long, as its metadata said).
pub fn list(path: &Path, len: u64) -> Result<Listing, JarError> {
    let mut file = File::open(path)?;
    let (start, size) = directory(&mut file, len)?;
    if size > MAX_DIRECTORY_BYTES {
        return Err(JarError::TooLarge);
    }
    file.seek(SeekFrom::Start(start))?;
    let mut dir = Vec::new();
    file.take(size).read_to_end(&mut dir)?;
    if dir.len() as u64 != size {
        return Err(JarError::Damaged("the directory ends early"));
    }
    entries(&dir)
}

/// Where the central directory starts and how long it is. Computed back from the end record
/// rather than trusting its offset field, so archives with bytes before them (self-running jars)
/// are read too.
fn directory(file: &mut File, len: u64) -> Result<(u64, u64), JarError> {
    if len < EOCD_LEN as u64 {
        return Err(JarError::NotZip("too short"));
    }
    let tail_len = len.min(MAX_TAIL);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::new();
    file.take(tail_len).read_to_end(&mut tail)?;
    let at = (0..=tail.len().saturating_sub(EOCD_LEN))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06") && i + EOCD_LEN + le16(&tail, i + 20) == tail.len())
        .ok_or(JarError::NotZip("no end-of-directory record"))?;
    let eocd = len - tail_len + at as u64;
    let (size, offset) = (le32(&tail, at + 12), le32(&tail, at + 16));
    if size != 0xffff_ffff && offset != 0xffff_ffff && le16(&tail, at + 10) != 0xffff {
        return eocd
            .checked_sub(size)
            .map(|s| (s, size))
            .ok_or(JarError::Damaged("directory before the file"));
    }
    // ZIP64: a locator just before the end record, and the 64-bit end record (56 bytes without
    // extensions) before it. Looked for there first, then where the locator says (which counts
    // from the archive's start and is off by any bytes before it).
    if !at.checked_sub(20).is_some_and(|l| tail[l..].starts_with(b"PK\x06\x07")) {
        return Err(JarError::Damaged("a ZIP64 archive without its locator"));
    }
    let named = le64(&tail, at - 20 + 8);
    for record in [eocd.checked_sub(20 + 56), Some(named)].into_iter().flatten() {
        let mut head = [0u8; 56];
        file.seek(SeekFrom::Start(record))?;
        if file.read_exact(&mut head).is_ok() && head.starts_with(b"PK\x06\x06") {
            let size = le64(&head, 40);
            return record
                .checked_sub(size)
                .map(|s| (s, size))
                .ok_or(JarError::Damaged("directory before the file"));
        }
    }
    Err(JarError::Damaged("no ZIP64 end record"))
}

fn entries(dir: &[u8]) -> Result<Listing, JarError> {
    let mut listing = Listing::default();
    let mut at = 0;
    while at < dir.len() {
        if !dir[at..].starts_with(b"PK\x01\x02") || dir.len() < at + 46 {
            return Err(JarError::Damaged("an entry without its header"));
        }
        let name_len = le16(dir, at + 28);
        let skip = le16(dir, at + 30) + le16(dir, at + 32);
        let name = dir.get(at + 46..at + 46 + name_len).ok_or(JarError::Damaged("a name cut off"))?;
        note(&mut listing, &String::from_utf8_lossy(name));
        at += 46 + name_len + skip;
    }
    Ok(listing)
}

fn note(listing: &mut Listing, name: &str) {
    if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
        listing.has_manifest = true;
    } else if let Some(class) = name.strip_suffix(".class")
        && !name.starts_with("META-INF/")
    {
        listing.classes.insert(class.replace('/', "."));
    } else if name.starts_with("lib/") && name.ends_with(".jar") {
        listing.nests_jars = true;
    }
}

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")))
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing_of(bytes: &[u8]) -> Result<Listing, JarError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jar");
        std::fs::write(&path, bytes).unwrap();
        list(&path, bytes.len() as u64)
    }

    /// A central directory naming `names` and its end records (local entries are never read).
    fn archive(names: &[&str], zip64: bool, comment: &[u8]) -> Vec<u8> {
        let mut out = b"local entries would be here".to_vec();
        let start = out.len() as u64;
        for name in names {
            out.extend(b"PK\x01\x02");
            out.extend([0u8; 24]);
            out.extend((name.len() as u16).to_le_bytes());
            out.extend([4u8, 0, 0, 0]); // 4 bytes of extra field, no comment
            out.extend([0u8; 12]);
            out.extend(name.as_bytes());
            out.extend([9u8; 4]);
        }
        let size = out.len() as u64 - start;
        if zip64 {
            let record = out.len() as u64;
            out.extend(b"PK\x06\x06");
            out.extend(44u64.to_le_bytes());
            out.extend([0u8; 12]);
            out.extend((names.len() as u64).to_le_bytes());
            out.extend((names.len() as u64).to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend(start.to_le_bytes());
            out.extend(b"PK\x06\x07");
            out.extend([0u8; 4]);
            out.extend(record.to_le_bytes());
            out.extend(1u32.to_le_bytes());
        }
        out.extend(b"PK\x05\x06");
        out.extend([0u8; 4]);
        let count: u16 = if zip64 { 0xffff } else { names.len() as u16 };
        out.extend(count.to_le_bytes());
        out.extend(count.to_le_bytes());
        let (size32, start32) = if zip64 { (u32::MAX, u32::MAX) } else { (size as u32, start as u32) };
        out.extend(size32.to_le_bytes());
        out.extend(start32.to_le_bytes());
        out.extend((comment.len() as u16).to_le_bytes());
        out.extend(comment);
        out
    }

    #[test]
    fn the_test_fixture_lists_its_manifest_and_classes() {
        let l = listing_of(include_bytes!("../../tests/cases/fixture.jar")).unwrap();
        assert!(l.has_manifest && !l.nests_jars);
        assert_eq!(
            l.classes.iter().map(String::as_str).collect::<Vec<_>>(),
            ["com.example.Main", "dev.flinkops.testjob.CounterJob"]
        );
    }

    #[test]
    fn classes_manifests_and_nested_jars_are_told_apart() {
        let names = ["META-INF/MANIFEST.MF", "a/B.class", "a/B$1.class", "META-INF/x/C.class", "lib/dep.jar"];
        for zip64 in [false, true] {
            let l = listing_of(&archive(&names, zip64, b"a comment with PK\x05\x06 inside")).unwrap();
            assert!(l.has_manifest && l.nests_jars, "zip64 {zip64}");
            assert_eq!(
                l.classes.iter().map(String::as_str).collect::<Vec<_>>(),
                ["a.B", "a.B$1"],
                "zip64 {zip64}"
            );
        }
    }

    #[test]
    fn bytes_before_the_archive_are_allowed() {
        let mut bytes = b"#!/bin/sh\nexec java -jar \"$0\"\n".to_vec();
        bytes.extend(include_bytes!("../../tests/cases/fixture.jar"));
        assert!(listing_of(&bytes).unwrap().has_manifest);
    }

    #[test]
    fn what_is_not_a_zip_or_is_damaged_says_so() {
        let not_zip = |b: &[u8]| matches!(listing_of(b), Err(JarError::NotZip(_)));
        assert!(not_zip(b""));
        assert!(not_zip(b"placeholder: run mvn package\n"));
        assert!(not_zip(&[0u8; 100_000]));
        let mut cut = archive(&["a/B.class"], false, b"");
        cut.drain(..40); // the directory now starts before the file
        assert!(matches!(listing_of(&cut), Err(JarError::Damaged(_))), "{:?}", listing_of(&cut));
        let mut garbled = archive(&["a/B.class"], false, b"");
        let at = garbled.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        garbled[at] = b'X';
        assert!(matches!(listing_of(&garbled), Err(JarError::Damaged(_))));
        let mut no_locator = archive(&["a/B.class"], true, b"");
        let at = no_locator.windows(4).position(|w| w == b"PK\x06\x07").unwrap();
        no_locator[at] = b'X';
        assert!(matches!(listing_of(&no_locator), Err(JarError::Damaged(_))));
    }
}
