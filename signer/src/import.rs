//! Code lists as marketing hands them over: CSV, TSV or semicolon files (any delimiter, with or
//! without a header, BOM, CRLF, quoted fields) and spreadsheets (XLSX, XLS, XLSB, ODS). Codes
//! come out normalized as the evaluator compares them, deduplicated, in file order, with every
//! row that could not be used and why.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use calamine::{open_workbook_auto, Data, Reader};
use promoseal_evaluator::{normalize_code, MAX_CODE_LEN};

/// Which column and sheet to read.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// A header name (case-insensitive) or a 1-based column number. Absent: the column whose
    /// header looks like a code (`code`, `coupon`, `voucher`, `promo`…), or the only column.
    pub column: Option<String>,
    /// Spreadsheets: a sheet name or 1-based number. Absent: the first sheet.
    pub sheet: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportedCodes {
    /// Normalized ([`normalize_code`]), deduplicated, in the order they first appear.
    pub codes: Vec<String>,
    /// Codes dropped because they (after normalization) appeared earlier.
    pub duplicates: usize,
    /// Rows not imported: 1-based row (line) number in the file and the reason.
    pub skipped: Vec<(usize, String)>,
}

impl ImportedCodes {
    /// Why a file gave no code, for a file named `file` (its first refused rows' reasons), or
    /// `None` when it gave some: the message of the CLI and of the console.
    pub fn none_found(&self, file: &str) -> Option<String> {
        if !self.codes.is_empty() {
            return None;
        }
        let why: Vec<String> = self
            .skipped
            .iter()
            .take(3)
            .map(|(row, why)| format!("row {row}: {why}"))
            .collect();
        let more = self.skipped.len().saturating_sub(why.len());
        Some(if why.is_empty() {
            format!("`{file}`: no codes found")
        } else if more > 0 {
            format!(
                "`{file}`: no codes found ({}; {more} more rows skipped)",
                why.join("; ")
            )
        } else {
            format!("`{file}`: no codes found ({})", why.join("; "))
        })
    }
}

/// Reads the codes of one column of a delimited text file or a spreadsheet. The format is
/// chosen by the extension: `.csv`, `.tsv`, `.txt` (or none) are text, `.xlsx`, `.xlsm`,
/// `.xlsb`, `.xls` and `.ods` are spreadsheets.
pub fn read_codes(path: &Path, opts: &ImportOptions) -> Result<ImportedCodes> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let column = column_arg(opts.column.as_deref())?;
    match ext.as_str() {
        "csv" | "tsv" | "txt" | "" => read_delimited(path, &ext, column.as_ref()),
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => {
            read_workbook(path, opts.sheet.as_deref(), column.as_ref())
        }
        other => bail!(
            "`{}`: unsupported file type `.{other}` (use .csv, .tsv, .txt, .xlsx, .xls or .ods)",
            path.display()
        ),
    }
}

// --- column choice --------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum ColumnArg {
    Name(String),
    /// 0-based.
    Index(usize),
}

/// How to name the code column, in words for the CLI and the console alike.
const PICK: &str = "name the code column by its header or its number (the CLI's `--column`, the \
                    console's Code column field)";

fn column_arg(column: Option<&str>) -> Result<Option<ColumnArg>> {
    let Some(c) = column.map(str::trim) else {
        return Ok(None);
    };
    if c.is_empty() {
        bail!("--column: give a header name or a column number");
    }
    if c.bytes().all(|b| b.is_ascii_digit()) {
        let n: usize = c
            .parse()
            .map_err(|_| anyhow!("--column: `{c}` is not a column number"))?;
        return match n.checked_sub(1) {
            Some(i) => Ok(Some(ColumnArg::Index(i))),
            None => bail!("--column: columns are numbered from 1"),
        };
    }
    Ok(Some(ColumnArg::Name(c.to_string())))
}

/// Words a code column's header is made of.
const HEADER_WORDS: &[&str] = &[
    "code",
    "codes",
    "coupon",
    "coupons",
    "couponcode",
    "couponcodes",
    "voucher",
    "vouchers",
    "vouchercode",
    "vouchercodes",
    "promo",
    "promos",
    "promocode",
    "promocodes",
    "promotion",
    "discount",
];

/// How much a cell looks like the header of a code column: 2 when every word of it is a header
/// word (`Code`, `coupon_code`, `Promo Code`), 1 when one is (`code (unique)`), else 0.
/// A code such as `PROMO2024` is one word that is not a header word.
fn header_score(cell: &str) -> u8 {
    let lower = cell.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let known = |w: &&str| HEADER_WORDS.contains(w) && *w != "discount" && *w != "promotion";
    let allowed = |w: &&str| HEADER_WORDS.contains(w);
    if words.iter().any(known) {
        if words.iter().all(allowed) {
            2
        } else {
            1
        }
    } else {
        0
    }
}

fn list_columns(first: &[String]) -> String {
    first
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} `{}`", i + 1, c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column to read, and whether `first` (the first non-blank row, at `row`) is a header.
fn choose_column(
    first: &[String],
    arg: Option<&ColumnArg>,
    file: &str,
    row: usize,
) -> Result<(usize, bool)> {
    match arg {
        Some(ColumnArg::Name(name)) => first
            .iter()
            .position(|c| c.trim().eq_ignore_ascii_case(name))
            .map(|i| (i, true))
            .ok_or_else(|| {
                anyhow!(
                    "`{file}`: row {row}: no column is named `{name}`; the columns are {}",
                    list_columns(first)
                )
            }),
        Some(ColumnArg::Index(i)) => {
            if *i >= first.len() {
                bail!(
                    "`{file}`: row {row}: there is no column {} (the first row has {}: {})",
                    i + 1,
                    first.len(),
                    list_columns(first)
                );
            }
            let header = first.get(*i).is_some_and(|c| header_score(c) > 0);
            Ok((*i, header))
        }
        None => {
            let scores: Vec<u8> = first.iter().map(|c| header_score(c)).collect();
            let best = scores.iter().copied().max().unwrap_or(0);
            if best > 0 {
                let candidates: Vec<usize> = scores
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s == best)
                    .map(|(i, _)| i)
                    .collect();
                return match candidates.as_slice() {
                    [i] => Ok((*i, true)),
                    _ => bail!(
                        "`{file}`: row {row}: several columns look like codes ({}); {PICK}",
                        candidates
                            .iter()
                            .map(|i| format!(
                                "{} `{}`",
                                i + 1,
                                first.get(*i).map(|c| c.trim()).unwrap_or_default()
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
            }
            if first.len() == 1 {
                return Ok((0, false));
            }
            bail!(
                "`{file}`: row {row}: {} columns and none is headed like a code column (code, \
                 coupon, voucher, promo); {PICK}. The first row is: {}",
                first.len(),
                list_columns(first)
            )
        }
    }
}

// --- collecting -----------------------------------------------------------------------------

#[derive(Default)]
struct Collector {
    codes: Vec<String>,
    skipped: Vec<(usize, String)>,
}

/// What keeps a code (in its one spelling, [`normalize_code`]) out of a set, if anything: the
/// rule of every way codes come in (a file's rows, `--code`, the console's import).
pub fn code_problem(code: &str) -> Option<String> {
    if code.is_empty() {
        Some("empty code".into())
    } else if code.len() > MAX_CODE_LEN {
        Some(format!(
            "code of {} bytes is longer than the {MAX_CODE_LEN} a code may have",
            code.len()
        ))
    } else if let Some(c) = code.chars().find(|c| c.is_control()) {
        Some(format!(
            "code contains a control character (U+{:04X})",
            u32::from(c)
        ))
    } else {
        // Codes are matched in one spelling, ASCII upper case: `é` has no case folding there
        // and `ﬁ` no decomposition, so a shopper could type such a code and be refused.
        code.chars().find(|c| !c.is_ascii()).map(|c| {
            format!(
                "code contains a character outside ASCII (U+{:04X}): codes are letters, digits \
                 and ASCII punctuation, matched in either case",
                u32::from(c)
            )
        })
    }
}

impl Collector {
    fn skip(&mut self, row: usize, why: impl Into<String>) {
        self.skipped.push((row, why.into()));
    }

    fn push(&mut self, row: usize, raw: &str) {
        let code = normalize_code(raw);
        match code_problem(&code) {
            Some(why) => self.skip(row, why),
            None => self.codes.push(code),
        }
    }

    /// Drops repeated codes, keeping the first of each (no copy of the codes is made).
    fn finish(self) -> ImportedCodes {
        let keep: Vec<bool> = {
            let mut seen: HashSet<&str> = HashSet::with_capacity(self.codes.len());
            self.codes.iter().map(|c| seen.insert(c.as_str())).collect()
        };
        let total = self.codes.len();
        let codes: Vec<String> = self
            .codes
            .into_iter()
            .zip(keep)
            .filter_map(|(c, k)| k.then_some(c))
            .collect();
        ImportedCodes {
            duplicates: total - codes.len(),
            codes,
            skipped: self.skipped,
        }
    }
}

// --- delimited text -------------------------------------------------------------------------

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Candidate delimiters, the first consistent one wins: tab and semicolon before comma, since a
/// comma is more often part of a value (a decimal comma) in those files than the reverse.
const DELIMITERS: [u8; 4] = [b'\t', b';', b',', b'|'];

/// Stands for "no delimiter" (one column): a byte that does not occur in text files.
const NO_DELIMITER: u8 = 0x1F;

/// Occurrences of `d` outside double quotes.
fn count_outside_quotes(line: &[u8], d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

/// Picks the delimiter from the first lines: the first (in [`DELIMITERS`] order) that occurs
/// the same number of times on every line; else the one found on most lines, if that is at
/// least half of them (ragged rows, multi-line quoted fields); else none (a single column).
fn sniff_delimiter(head: &[u8], ext: &str) -> u8 {
    let mut lines: Vec<&[u8]> = head.split(|b| *b == b'\n').collect();
    if !head.ends_with(b"\n") && lines.len() > 1 {
        lines.pop(); // possibly cut short
    }
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(100)
        .collect();
    if lines.is_empty() {
        return if ext == "tsv" { b'\t' } else { b',' };
    }
    let counts =
        |d: u8| -> Vec<usize> { lines.iter().map(|l| count_outside_quotes(l, d)).collect() };
    let consistent = DELIMITERS.iter().copied().find(|&d| {
        let c = counts(d);
        c.first()
            .is_some_and(|f| *f > 0 && c.iter().all(|x| x == f))
    });
    if let Some(d) = consistent {
        return d;
    }
    let mut best: Option<(usize, u8)> = None;
    for d in DELIMITERS {
        let on = counts(d).iter().filter(|x| **x > 0).count();
        if on * 2 >= lines.len() && best.is_none_or(|(n, _)| on > n) {
            best = Some((on, d));
        }
    }
    best.map_or(NO_DELIMITER, |(_, d)| d)
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

fn read_delimited(path: &Path, ext: &str, column: Option<&ColumnArg>) -> Result<ImportedCodes> {
    let file_name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot read `{file_name}`"))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader
        .fill_buf()
        .with_context(|| format!("cannot read `{file_name}`"))?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        bail!("`{file_name}`: the file is UTF-16 text; save it as UTF-8 (CSV UTF-8)");
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"\xD0\xCF\x11\xE0") {
        bail!("`{file_name}`: this is a spreadsheet, not text; give it its .xlsx/.xls extension");
    }
    if head.starts_with(UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    let head = reader
        .fill_buf()
        .with_context(|| format!("cannot read `{file_name}`"))?;
    // Text never holds NUL; an image, an archive or a database file nearly always does early.
    if head.contains(&0) {
        bail!(
            "`{file_name}`: this is not a text file (it holds NUL bytes); codes are read from \
             CSV, TSV or text in UTF-8, or from a spreadsheet with its extension"
        );
    }
    let delimiter = sniff_delimiter(head, ext);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(reader);

    let mut out = Collector::default();
    let mut chosen: Option<usize> = None;
    let mut record = csv::ByteRecord::new();
    let mut last_row = 0;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let row = e
                    .position()
                    .and_then(|p| usize::try_from(p.line()).ok())
                    .unwrap_or(last_row + 1);
                bail!("`{file_name}`: row {row}: {e}");
            }
        }
        let row = record
            .position()
            .and_then(|p| usize::try_from(p.line()).ok())
            .unwrap_or(last_row + 1);
        last_row = row;
        if is_blank(&record) {
            continue;
        }
        let col = match chosen {
            Some(c) => c,
            None => {
                let first: Vec<String> = record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                let (c, header) = choose_column(&first, column, &file_name, row)?;
                chosen = Some(c);
                if header {
                    continue;
                }
                c
            }
        };
        match record.get(col) {
            None => out.skip(row, format!("the row has no column {}", col + 1)),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(s) => out.push(row, s),
                Err(_) => out.skip(row, "the code is not valid UTF-8 text"),
            },
        }
    }
    if chosen.is_none() {
        bail!("`{file_name}`: the file has no rows");
    }
    Ok(out.finish())
}

// --- spreadsheets ---------------------------------------------------------------------------

/// A cell as code text, or why it cannot be one. Numbers that are whole become their integer
/// text (`12345`, never `12345.0`).
fn cell_text(cell: &Data) -> std::result::Result<String, String> {
    match cell {
        Data::String(s) => Ok(s.clone()),
        Data::Int(i) => Ok(i.to_string()),
        Data::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
                Ok(format!("{}", *f as i64))
            } else {
                Ok(format!("{f}"))
            }
        }
        Data::Empty => Ok(String::new()),
        Data::Bool(b) => Err(format!(
            "a {} cell, not a code",
            if *b { "TRUE" } else { "FALSE" }
        )),
        Data::DateTime(_) | Data::DateTimeIso(_) => Err("a date cell, not a code".to_string()),
        Data::DurationIso(_) => Err("a duration cell, not a code".to_string()),
        Data::Error(e) => Err(format!("a cell with an error ({e})")),
    }
}

fn read_workbook(
    path: &Path,
    sheet: Option<&str>,
    column: Option<&ColumnArg>,
) -> Result<ImportedCodes> {
    let file_name = path.display().to_string();
    let mut workbook = open_workbook_auto(path)
        .map_err(|e| anyhow!("`{file_name}`: cannot open the spreadsheet: {e}"))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        // Several sheets: the one whose first row names a code column (a cover sheet's line
        // must not become a code).
        None if names.len() > 1 => {
            // The sheets that hold anything, and among them those whose first row names a code
            // column.
            let (mut filled, mut with_codes) = (Vec::new(), Vec::new());
            for n in &names {
                let Ok(range) = workbook.worksheet_range(n) else {
                    continue;
                };
                let Some(first) = range.rows().find(|cells| {
                    cells
                        .iter()
                        .any(|c| cell_text(c).is_ok_and(|t| !t.trim().is_empty()))
                }) else {
                    continue;
                };
                filled.push(n.clone());
                if first
                    .iter()
                    .filter_map(|c| cell_text(c).ok())
                    .any(|t| match column {
                        Some(ColumnArg::Name(want)) => t.trim().eq_ignore_ascii_case(want),
                        _ => header_score(&t) > 0,
                    })
                {
                    with_codes.push(n.clone());
                }
            }
            match (filled.as_slice(), with_codes.as_slice()) {
                ([one], _) | (_, [one]) => Some(one.clone()),
                // Every sheet empty: the first one says so.
                ([], _) => names.first().cloned(),
                _ => bail!(
                    "`{file_name}`: the workbook has {} sheets with cells ({}) and {} of them \
                     has a code column's header: name the sheet (the command line's --sheet), \
                     or keep only the codes' sheet",
                    filled.len(),
                    filled
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if with_codes.is_empty() {
                        "none"
                    } else {
                        "more than one"
                    }
                ),
            }
        }
        None => names.first().cloned(),
        Some(s) => names
            .iter()
            .find(|n| *n == s)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(s)))
            .or_else(|| {
                s.parse::<usize>()
                    .ok()
                    .and_then(|i| i.checked_sub(1))
                    .and_then(|i| names.get(i))
            })
            .cloned(),
    };
    let Some(name) = name else {
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return match sheet {
            Some(s) => Err(anyhow!(
                "`{file_name}`: no sheet `{s}`; the sheets are {list}"
            )),
            None => Err(anyhow!("`{file_name}`: the workbook has no sheets")),
        };
    };
    let range = workbook
        .worksheet_range(&name)
        .map_err(|e| anyhow!("`{file_name}`: sheet `{name}`: {e}"))?;
    // The range starts at its first used cell; rows and columns are reported as the
    // spreadsheet numbers them.
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let row0 = usize::try_from(row0).unwrap_or(0);
    let col0 = usize::try_from(col0).unwrap_or(0);
    let where_ = format!("{file_name}` sheet `{name}");

    let mut out = Collector::default();
    let mut chosen: Option<usize> = None;
    for (k, cells) in range.rows().enumerate() {
        let row = row0 + k + 1;
        let blank = cells.iter().all(|c| match c {
            Data::Empty => true,
            Data::String(s) => s.trim().is_empty(),
            _ => false,
        });
        if blank {
            continue;
        }
        let col = match chosen {
            Some(c) => c,
            None => {
                let first: Vec<String> = std::iter::repeat_n(String::new(), col0)
                    .chain(cells.iter().map(|c| cell_text(c).unwrap_or_default()))
                    .collect();
                let (c, header) = choose_column(&first, column, &where_, row)?;
                chosen = Some(c);
                if header {
                    continue;
                }
                c
            }
        };
        match col.checked_sub(col0).and_then(|j| cells.get(j)) {
            None => out.skip(row, "empty code"),
            Some(cell) => match cell_text(cell) {
                Ok(s) => out.push(row, &s),
                Err(why) => out.skip(row, why),
            },
        }
    }
    if chosen.is_none() {
        bail!("`{where_}`: the sheet is empty");
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A scratch directory unique to one test.
    fn dir(test: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("promoseal-import-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(test: &str, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir(test).join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn read(path: &Path, column: Option<&str>) -> Result<ImportedCodes> {
        read_codes(
            path,
            &ImportOptions {
                column: column.map(str::to_string),
                sheet: None,
            },
        )
    }

    fn codes(c: &ImportedCodes) -> Vec<&str> {
        c.codes.iter().map(String::as_str).collect()
    }

    #[test]
    fn single_column_without_header() {
        let p = write(
            "single",
            "codes.txt",
            b"summer10\n  WINTER20 \n\nsummer10\n",
        );
        let c = read(&p, None).unwrap();
        assert_eq!(codes(&c), ["SUMMER10", "WINTER20"]);
        assert_eq!(c.duplicates, 1);
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn codes_outside_ascii_are_skipped_with_the_reason() {
        // `é` has no case folding in a code's one spelling, `ﬁ` no decomposition: a shopper
        // typing `café-1` or `FI-LIG` would be refused.
        let p = write("ascii", "codes.txt", "ok-1\ncafé-1\nﬁ-lig\n".as_bytes());
        let c = read(&p, None).unwrap();
        assert_eq!(codes(&c), ["OK-1"]);
        let why: Vec<(usize, &str)> = c.skipped.iter().map(|(r, w)| (*r, w.as_str())).collect();
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].1.contains("outside ASCII (U+00E9)"), "{why:?}");
        assert!(why[1].1.contains("outside ASCII (U+FB01)"), "{why:?}");
    }

    #[test]
    fn delimiters_with_and_without_header() {
        for (name, text) in [
            (
                "comma.csv",
                "email,code,amount\na@x.io,abc1,5\nb@x.io,abc2,5\n",
            ),
            (
                "semi.csv",
                "email;Promo Code;amount\na@x.io;abc1;5,50\nb@x.io;abc2;5,50\n",
            ),
            (
                "tab.tsv",
                "email\tvoucher\tamount\na@x.io\tabc1\t5\nb@x.io\tabc2\t5\n",
            ),
        ] {
            let p = write("delims", name, text.as_bytes());
            let c = read(&p, None).unwrap();
            assert_eq!(codes(&c), ["ABC1", "ABC2"], "{name}");
        }
        // No header: the column is given by number, and the first row is data.
        for (name, text) in [
            ("comma.csv", "a@x.io,abc1,5\nb@x.io,abc2,5\n"),
            ("semi.csv", "a@x.io;abc1;5,50\nb@x.io;abc2;5,50\n"),
            ("tab.tsv", "a@x.io\tabc1\t5\nb@x.io\tabc2\t5\n"),
        ] {
            let p = write("delims-noheader", name, text.as_bytes());
            let c = read(&p, Some("2")).unwrap();
            assert_eq!(codes(&c), ["ABC1", "ABC2"], "{name}");
        }
    }

    #[test]
    fn quoted_codes_bom_and_crlf() {
        let text = "\u{feff}\"Code\",\"Note\"\r\n\"A,1\",\"has, commas\"\r\n\"b \"\"2\"\"\",x\r\n\r\nc3,\"multi\r\nline\"\r\n";
        let p = write("quoted", "codes.csv", text.as_bytes());
        let c = read(&p, None).unwrap();
        assert_eq!(codes(&c), ["A,1", "B \"2\"", "C3"]);
        assert!(c.skipped.is_empty(), "{:?}", c.skipped);
    }

    #[test]
    fn column_by_name_and_by_index() {
        let text = "id,coupon,backup code\n1,one,alt1\n2,two,alt2\n";
        let p = write("pick", "codes.csv", text.as_bytes());
        assert_eq!(codes(&read(&p, None).unwrap()), ["ONE", "TWO"]);
        assert_eq!(
            codes(&read(&p, Some("BACKUP CODE")).unwrap()),
            ["ALT1", "ALT2"]
        );
        // By number, the header row is recognized and left out.
        assert_eq!(codes(&read(&p, Some("3")).unwrap()), ["ALT1", "ALT2"]);
        // By number on a column without a code-like header: the header is read as data.
        assert_eq!(codes(&read(&p, Some("1")).unwrap()), ["ID", "1", "2"]);
        let e = read(&p, Some("voucher")).unwrap_err().to_string();
        assert!(
            e.contains("no column is named `voucher`") && e.contains("2 `coupon`"),
            "{e}"
        );
        let e = read(&p, Some("9")).unwrap_err().to_string();
        assert!(e.contains("no column 9"), "{e}");
        assert!(read(&p, Some("0")).is_err());
    }

    #[test]
    fn duplicates_and_skipped_rows() {
        let long = "X".repeat(MAX_CODE_LEN + 1);
        let text =
            format!("code,n\nabc,1\n ABC ,2\n,3\n{long},4\nbad\u{7}code,5\nxyz,6\nabc,7\nshort\n");
        let p = write("skips", "codes.csv", text.as_bytes());
        let c = read(&p, None).unwrap();
        // The ragged last row still has the code column (the first one).
        assert_eq!(codes(&c), ["ABC", "XYZ", "SHORT"]);
        assert_eq!(c.duplicates, 2);
        let rows: Vec<usize> = c.skipped.iter().map(|(r, _)| *r).collect();
        assert_eq!(rows, [4, 5, 6]);
        assert_eq!(c.skipped[0].1, "empty code");
        assert!(c.skipped[1].1.contains("65 bytes"), "{:?}", c.skipped);
        assert!(c.skipped[2].1.contains("U+0007"), "{:?}", c.skipped);
    }

    #[test]
    fn a_binary_file_is_not_read_as_text() {
        // A PNG's header, with no extension or a text one: refused whole, nothing imported.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
        for name in ["image", "image.csv", "image.txt"] {
            let p = write("binary", name, png);
            let e = read(&p, None).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("not a text file"), "{e}");
        }
    }

    #[test]
    fn ambiguous_columns_are_an_error() {
        let p = write("ambiguous", "list.csv", b"email,amount\na@x.io,5\n");
        let e = read(&p, None).unwrap_err().to_string();
        assert!(e.contains("list.csv") && e.contains("row 1"), "{e}");
        assert!(e.contains("1 `email`, 2 `amount`"), "{e}");
        let p = write("ambiguous2", "list.csv", b"code,coupon\na,b\n");
        let e = read(&p, None).unwrap_err().to_string();
        assert!(e.contains("several columns"), "{e}");
    }

    #[test]
    fn a_promo_looking_code_is_not_a_header() {
        let p = write("promo-code", "codes.csv", b"PROMO2024\nPROMO2025\n");
        assert_eq!(codes(&read(&p, None).unwrap()), ["PROMO2024", "PROMO2025"]);
    }

    #[test]
    fn xlsx_with_numeric_codes() {
        use rust_xlsxwriter::Workbook;
        let path = dir("xlsx").join("codes.xlsx");
        let mut wb = Workbook::new();
        let other = wb.add_worksheet();
        other.set_name("Notes").unwrap();
        other.write_string(0, 0, "ignore me").unwrap();
        let sheet = wb.add_worksheet();
        sheet.set_name("Codes").unwrap();
        sheet.write_string(1, 1, "Customer").unwrap();
        sheet.write_string(1, 2, "Voucher").unwrap();
        sheet.write_string(2, 1, "ada").unwrap();
        sheet.write_string(2, 2, "gift-1").unwrap();
        sheet.write_string(3, 1, "bob").unwrap();
        sheet.write_number(3, 2, 12345.0).unwrap();
        sheet.write_string(4, 1, "cy").unwrap();
        sheet.write_boolean(4, 2, true).unwrap();
        sheet.write_string(6, 1, "dee").unwrap();
        sheet.write_string(6, 2, "GIFT-1").unwrap();
        wb.save(&path).unwrap();

        let opts = |sheet: &str, column: Option<&str>| ImportOptions {
            column: column.map(str::to_string),
            sheet: Some(sheet.to_string()),
        };
        let c = read_codes(&path, &opts("Codes", None)).unwrap();
        assert_eq!(codes(&c), ["GIFT-1", "12345"]);
        assert_eq!(c.duplicates, 1);
        assert_eq!(c.skipped.len(), 1);
        assert_eq!(c.skipped[0].0, 5);
        assert!(c.skipped[0].1.contains("TRUE"), "{:?}", c.skipped);
        // The sheet by number, the column by spreadsheet number (C = 3).
        let c = read_codes(&path, &opts("2", Some("3"))).unwrap();
        assert_eq!(codes(&c), ["GIFT-1", "12345"]);
        // Without --sheet, the one sheet whose first row names a code column: a cover
        // sheet's line is not a code.
        let c = read_codes(&path, &ImportOptions::default()).unwrap();
        assert_eq!(codes(&c), ["GIFT-1", "12345"]);
        let e = read_codes(&path, &opts("Missing", None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`Notes`, `Codes`"), "{e}");
    }

    #[test]
    fn several_sheets_without_a_code_header_need_the_sheet_named() {
        use rust_xlsxwriter::Workbook;
        let path = dir("sheets").join("codes.xlsx");
        let mut wb = Workbook::new();
        for name in ["Intro", "List"] {
            let s = wb.add_worksheet();
            s.set_name(name).unwrap();
            s.write_string(0, 0, "no header here").unwrap();
        }
        wb.save(&path).unwrap();
        let e = read_codes(&path, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "2 sheets with cells (`Intro`, `List`) and none of them has a code column's header"
            ),
            "{e}"
        );
        let c = read_codes(
            &path,
            &ImportOptions {
                sheet: Some("List".into()),
                column: None,
            },
        )
        .unwrap();
        assert_eq!(codes(&c), ["NO HEADER HERE"]);
        // Codes without a header on the one sheet that holds anything, beside empty ones.
        let path = dir("sheets").join("one.xlsx");
        let mut wb = Workbook::new();
        wb.add_worksheet().write_string(0, 0, "PLAIN-1").unwrap();
        wb.add_worksheet();
        wb.add_worksheet();
        wb.save(&path).unwrap();
        let c = read_codes(&path, &ImportOptions::default()).unwrap();
        assert_eq!(codes(&c), ["PLAIN-1"]);
    }

    #[test]
    fn large_file_streams() {
        use std::io::Write;
        let path = dir("large").join("big.csv");
        let mut w = std::io::BufWriter::new(File::create(&path).unwrap());
        writeln!(w, "code,batch").unwrap();
        for i in 0..200_000 {
            writeln!(w, "code-{i:07},{}", i % 7).unwrap();
        }
        drop(w);
        let start = std::time::Instant::now();
        let c = read(&path, None).unwrap();
        assert_eq!(c.codes.len(), 200_000);
        assert_eq!(c.codes[199_999], "CODE-0199999");
        // Generous for unoptimized test builds.
        assert!(start.elapsed().as_secs() < 20);
    }
}
