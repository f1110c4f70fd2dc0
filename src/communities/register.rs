//! Pure parsing for the unit register: floor areas as exact hundredths of a square metre,
//! CSV rows, and the unified social credit code.

/// Parses "85", "85.5" or "85.55" (square metres) into hundredths, exactly; no floats.
pub fn parse_area_centi(raw: &str) -> Result<i64, String> {
    let s = raw.trim();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    if !digits(whole)
        || (!frac.is_empty() && !digits(frac))
        || frac.len() > 2
        || (s.contains('.') && frac.is_empty())
    {
        return Err(format!(
            "area \"{s}\" must be square metres with at most two decimals, e.g. 85.50"
        ));
    }
    let whole: i64 = whole
        .parse()
        .map_err(|_| format!("area \"{s}\" is too large"))?;
    let frac: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    let centi = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(|| format!("area \"{s}\" is too large"))?;
    if centi == 0 || centi > 100_000_000 {
        return Err(format!(
            "area \"{s}\" must be more than 0 and at most 1,000,000 m²"
        ));
    }
    Ok(centi)
}

/// One parsed row of a register import.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    pub line: usize,
    pub building: String,
    pub number: String,
    pub area_centi: i64,
    pub registered_owner: Option<String>,
    pub developer_held: bool,
}

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" | "否" => Ok(false),
        "1" | "true" | "yes" | "y" | "是" => Ok(true),
        other => Err(format!("developer_held \"{other}\" must be yes or no")),
    }
}

fn text_field(name: &str, raw: &str, max: usize) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if value.chars().count() > max {
        return Err(format!("{name} is longer than {max} characters"));
    }
    Ok(value.to_string())
}

/// Parses a CSV with the header `building,number,area_m2,registered_owner,developer_held`
/// (the last two optional). Good rows and a per-line error for each bad row.
pub fn parse_units_csv(input: &str) -> (Vec<UnitRow>, Vec<(usize, String)>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
            .collect::<Vec<_>>(),
        Err(e) => {
            errors.push((1, format!("cannot read the header: {e}")));
            return (rows, errors);
        }
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(b), Some(n), Some(a)) = (col("building"), col("number"), col("area_m2")) else {
        errors.push((
            1,
            "the header must name building, number and area_m2".into(),
        ));
        return (rows, errors);
    };
    let (owner, dev) = (col("registered_owner"), col("developer_held"));
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push((line, format!("cannot read the row: {e}")));
                continue;
            }
        };
        let get = |idx: Option<usize>| idx.and_then(|i| record.get(i)).unwrap_or("");
        let parsed = (|| {
            Ok::<_, String>(UnitRow {
                line,
                building: text_field("building", get(Some(b)), 64)?,
                number: text_field("number", get(Some(n)), 32)?,
                area_centi: parse_area_centi(get(Some(a)))?,
                registered_owner: {
                    let o = get(owner).trim();
                    if o.chars().count() > 128 {
                        return Err("registered_owner is longer than 128 characters".into());
                    }
                    (!o.is_empty()).then(|| o.to_string())
                },
                developer_held: parse_bool(get(dev))?,
            })
        })();
        match parsed {
            Ok(row) => rows.push(row),
            Err(e) => errors.push((line, e)),
        }
    }
    (rows, errors)
}

/// Checks a unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from
/// the code alphabet, the last a check character over the first 17.
pub fn valid_credit_code(code: &str) -> bool {
    let chars: Vec<char> = code.chars().collect();
    chars.len() == 18
        && CREDIT_CODE_ALPHABET.contains(chars[17])
        && credit_code_check(&chars[..17].iter().collect::<String>()) == Some(chars[17])
}

const CREDIT_CODE_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The check character of a credit code's first 17 characters, if they are all valid.
pub fn credit_code_check(base: &str) -> Option<char> {
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let values: Vec<usize> = base
        .chars()
        .map(|c| CREDIT_CODE_ALPHABET.find(c))
        .collect::<Option<_>>()?;
    if values.len() != 17 {
        return None;
    }
    let sum: usize = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    CREDIT_CODE_ALPHABET.chars().nth((31 - sum % 31) % 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_exact_hundredths() {
        assert_eq!(parse_area_centi("85"), Ok(8500));
        assert_eq!(parse_area_centi("85.5"), Ok(8550));
        assert_eq!(parse_area_centi("85.05"), Ok(8505));
        assert_eq!(parse_area_centi(" 120.99 "), Ok(12099));
        for bad in [
            "",
            "0",
            "-3",
            "85.",
            ".5",
            "85.555",
            "1e3",
            "八十",
            "99999999999999999999",
        ] {
            assert!(parse_area_centi(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn csv_reports_bad_rows_by_line() {
        let input = "building,number,area_m2,registered_owner,developer_held\n\
                     1号楼,101,85.50,张三,no\n\
                     1号楼,,90,李四,no\n\
                     2号楼,201,abc,,\n\
                     2号楼,202,70.25,,是\n";
        let (rows, errors) = parse_units_csv(input);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].area_centi, 7025);
        assert!(rows[1].developer_held);
        assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 4]);
    }

    #[test]
    fn csv_without_required_header_is_one_error() {
        let (rows, errors) = parse_units_csv("a,b,c\n1,2,3\n");
        assert!(rows.is_empty());
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn credit_codes_are_checked() {
        assert!(valid_credit_code("91350100M000100Y43"));
        assert!(!valid_credit_code("91350100M000100Y44"));
        assert!(!valid_credit_code("91350100M000100Y4"));
        assert!(!valid_credit_code("91350100I000100Y43"));
    }
}
