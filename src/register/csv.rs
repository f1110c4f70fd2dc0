//! The register's CSV file: one row per person, with the unit they live in and whether they
//! own it. Parsing is pure; a bad row is reported by its line and never stops the others.

use chrono::NaiveDate;

use super::documents::{check_document, clean_name};
use crate::entities::register_kinds::{DocumentKind, PersonStatus};
use crate::spreadsheet::{guard, unguard};

/// The header, in the order the export writes it. `name` is required; the rest may be left out.
pub const HEADER: &str = "name,document_kind,document_number,birth_date,adult,phone,status,building,number,owner,certificate";

/// Columns the export adds for the reader; an import ignores them.
pub const READ_ONLY: [&str; 2] = ["document", "household"];

/// One good row.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonRow {
    pub line: usize,
    pub name: String,
    /// The kind and the normalised number.
    pub document: Option<(DocumentKind, String)>,
    pub birth_date: Option<NaiveDate>,
    pub adult: Option<bool>,
    pub phone: Option<String>,
    pub status: PersonStatus,
    /// Building name and unit number.
    pub unit: Option<(String, String)>,
    pub owner: bool,
    pub certificate: Option<String>,
}

fn yes_no(field: &str, raw: &str) -> Result<Option<bool>, String> {
    match raw.trim().to_lowercase().as_str() {
        "" => Ok(None),
        "0" | "false" | "no" | "n" | "否" => Ok(Some(false)),
        "1" | "true" | "yes" | "y" | "是" => Ok(Some(true)),
        other => Err(format!("{field} \"{other}\" must be yes or no")),
    }
}

fn status(raw: &str) -> Result<PersonStatus, String> {
    Ok(match raw.trim() {
        "" | "living" | "常住" | "在住" => PersonStatus::Living,
        "moved_out" | "迁出" | "搬离" => PersonStatus::MovedOut,
        "deceased" | "死亡" | "已故" => PersonStatus::Deceased,
        "non_resident" | "非常住" | "不在住" => PersonStatus::NonResident,
        other => {
            return Err(format!(
                "status \"{other}\" must be living, moved_out, deceased or non_resident"
            ));
        }
    })
}

fn document_kind(raw: &str) -> Result<Option<DocumentKind>, String> {
    Ok(Some(match raw.trim() {
        "" => return Ok(None),
        "resident_id" | "居民身份证" | "身份证" => DocumentKind::ResidentId,
        "passport" | "护照" => DocumentKind::Passport,
        "hk_macao_permit" | "港澳居民来往内地通行证" => DocumentKind::HkMacaoPermit,
        "taiwan_permit" | "台湾居民来往大陆通行证" => DocumentKind::TaiwanPermit,
        "foreign_permanent_id" | "外国人永久居留身份证" => {
            DocumentKind::ForeignPermanentId
        }
        "other" | "其他" => DocumentKind::Other,
        other => {
            return Err(format!(
                "document_kind \"{other}\" is not one the register knows"
            ));
        }
    }))
}

fn short(field: &str, raw: &str, max: usize) -> Result<Option<String>, String> {
    let v = raw.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(format!(
            "{field} must be at most {max} characters on one line"
        ));
    }
    Ok(Some(v.to_string()))
}

fn parse_row(
    line: usize,
    get: &dyn Fn(&str) -> String,
    today: NaiveDate,
) -> Result<PersonRow, String> {
    let name = clean_name(&get("name")).ok_or("name must have 1 to 64 characters")?;
    let number = get("document_number");
    let kind = document_kind(&get("document_kind"))?;
    let document = match (kind, number.trim()) {
        (_, "") if kind.is_some() => {
            return Err("document_kind is given without a document_number".into());
        }
        (_, "") => None,
        (kind, n) => {
            let kind = kind.unwrap_or(DocumentKind::ResidentId);
            Some((kind, check_document(kind, n)?))
        }
    };
    let birth_date = match get("birth_date").trim() {
        "" => None,
        d => {
            let d = NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| format!("birth_date \"{d}\" must be a date such as 1956-03-08"))?;
            if d > today || d < NaiveDate::from_ymd_opt(1890, 1, 1).unwrap_or(d) {
                return Err(format!("birth_date {d} is not a real past date"));
            }
            Some(d)
        }
    };
    let phone = short("phone", &get("phone"), 20)?;
    if let Some(p) = &phone
        && !p
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'))
    {
        return Err(format!("phone \"{p}\" must be digits"));
    }
    let building = short("building", &get("building"), 64)?;
    let number = short("number", &get("number"), 32)?;
    let unit = match (building, number) {
        (Some(b), Some(n)) => Some((b, n)),
        (None, None) => None,
        _ => return Err("give both building and number, or neither".into()),
    };
    let owner = yes_no("owner", &get("owner"))?.unwrap_or(false);
    if owner && unit.is_none() {
        return Err("an owner row names the unit owned (building and number)".into());
    }
    let certificate = short("certificate", &get("certificate"), 64)?
        .map(|c| c.chars().filter(|c| !c.is_whitespace()).collect::<String>());
    if certificate.is_some() && !owner {
        return Err("a certificate belongs on an owner's row".into());
    }
    Ok(PersonRow {
        line,
        name,
        document,
        birth_date,
        adult: yes_no("adult", &get("adult"))?,
        phone,
        status: status(&get("status"))?,
        unit,
        owner,
        certificate,
    })
}

/// Good rows, and a message for each bad one by its line (the header is line 1).
pub fn parse(input: &str, today: NaiveDate) -> (Vec<PersonRow>, Vec<(usize, String)>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
            .collect(),
        Err(e) => {
            errors.push((1, format!("cannot read the header: {e}")));
            return (rows, errors);
        }
    };
    if !headers.iter().any(|h| h == "name") {
        errors.push((
            1,
            format!("the header must name at least name; the full header is {HEADER}"),
        ));
        return (rows, errors);
    }
    if let Some(unknown) = headers
        .iter()
        .find(|h| !HEADER.split(',').chain(READ_ONLY).any(|k| k == h.as_str()))
    {
        errors.push((
            1,
            format!("unknown column \"{unknown}\"; the columns are {HEADER}"),
        ));
        return (rows, errors);
    }
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push((line, format!("cannot read the row: {e}")));
                continue;
            }
        };
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .map(unguard)
                .unwrap_or("")
                .to_string()
        };
        match parse_row(line, &get, today) {
            Ok(row) => rows.push(row),
            Err(e) => errors.push((line, e)),
        }
    }
    (rows, errors)
}

/// One person as the export writes them: the import's columns (no document number: the
/// register keeps none), then the document as shown and the household, for the reader.
#[derive(Clone, Debug, Default)]
pub struct ExportRow {
    pub name: String,
    pub birth_date: Option<NaiveDate>,
    pub adult: bool,
    pub phone: Option<String>,
    pub status: PersonStatus,
    pub building: Option<String>,
    pub number: Option<String>,
    pub owner: bool,
    pub certificate: Option<String>,
    /// e.g. "resident_id …123X".
    pub document: String,
    pub household: Option<String>,
}

fn status_name(s: PersonStatus) -> &'static str {
    match s {
        PersonStatus::Living => "living",
        PersonStatus::MovedOut => "moved_out",
        PersonStatus::Deceased => "deceased",
        PersonStatus::NonResident => "non_resident",
    }
}

/// The register as a CSV file the import reads back (matching by name and unit).
pub fn write(rows: &[ExportRow]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = HEADER.split(',').chain(READ_ONLY).collect();
    let _ = out.write_record(&header);
    let yes = |b: bool| if b { "yes" } else { "no" };
    for r in rows {
        let cells = [
            r.name.clone(),
            String::new(),
            String::new(),
            r.birth_date.map(|d| d.to_string()).unwrap_or_default(),
            yes(r.adult).into(),
            r.phone.clone().unwrap_or_default(),
            status_name(r.status).into(),
            r.building.clone().unwrap_or_default(),
            r.number.clone().unwrap_or_default(),
            yes(r.owner).into(),
            r.certificate.clone().unwrap_or_default(),
            r.document.clone(),
            r.household.clone().unwrap_or_default(),
        ];
        let _ = out.write_record(cells.iter().map(|c| guard(c)));
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_reads_back_and_never_carries_a_formula() {
        let rows = vec![
            ExportRow {
                name: "=HYPERLINK(\"x\")".into(),
                adult: true,
                phone: Some("+8613800138000".into()),
                status: PersonStatus::Living,
                building: Some("1号楼".into()),
                number: Some("101".into()),
                owner: true,
                certificate: Some("京(2020)不动产权第0000001号".into()),
                document: "resident_id …123X".into(),
                household: Some("王户".into()),
                ..Default::default()
            },
            ExportRow {
                name: "李, 奶奶".into(),
                birth_date: NaiveDate::from_ymd_opt(1941, 2, 3),
                status: PersonStatus::NonResident,
                ..Default::default()
            },
        ];
        let text = write(&rows);
        assert!(text.contains("'=HYPERLINK"), "{text}");
        assert!(text.contains("'+8613800138000"), "{text}");
        assert!(!text.lines().skip(1).any(|l| l.starts_with('=')));
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let (back, errors) = parse(&text, today);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back[0].name, "=HYPERLINK(\"x\")");
        assert_eq!(back[0].phone.as_deref(), Some("+8613800138000"));
        assert_eq!(back[0].unit, Some(("1号楼".into(), "101".into())));
        assert!(back[0].owner);
        assert_eq!(
            back[0].certificate.as_deref(),
            Some("京(2020)不动产权第0000001号")
        );
        assert_eq!(back[1].name, "李, 奶奶");
        assert_eq!(back[1].birth_date, NaiveDate::from_ymd_opt(1941, 2, 3));
        assert_eq!(back[1].adult, Some(false));
        assert_eq!(back[1].status, PersonStatus::NonResident);
        assert_eq!(back[1].document, None);
    }

    #[test]
    fn rows_are_parsed_and_bad_ones_reported_by_line() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let input = format!(
            "{HEADER}\n\
             王伟,居民身份证,11010519491231002X,1949-12-31,,13800138000,常住,1号楼,101,是,证001\n\
             李娜,,,,,,,1号楼,101,,\n\
             ,,,,,,,,,,\n\
             赵强,resident_id,110105194912310021,,,,,,,,\n\
             钱敏,,,,,,unknown,,,,\n\
             孙丽,,,,,,,1号楼,,,\n\
             周杰,,,,,,,,,是,\n\
             吴芳,,,2999-01-01,,,,,,,\n"
        );
        let (rows, errors) = parse(&input, today);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].document,
            Some((DocumentKind::ResidentId, "11010519491231002X".into()))
        );
        assert!(rows[0].owner);
        assert_eq!(rows[0].certificate.as_deref(), Some("证001"));
        assert_eq!(rows[1].unit, Some(("1号楼".into(), "101".into())));
        assert_eq!(rows[1].status, PersonStatus::Living);
        assert_eq!(
            errors.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![4, 5, 6, 7, 8, 9]
        );
    }

    #[test]
    fn a_header_without_name_or_with_unknown_columns_is_one_error() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(parse("a,b\n1,2\n", today).1.len(), 1);
        assert_eq!(parse("name,idcard\n王伟,1\n", today).1.len(), 1);
        assert!(parse("name\n王伟\n", today).1.is_empty());
    }
}
