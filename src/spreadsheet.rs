//! Cells of the CSV files Yishi writes, safe to open in a spreadsheet: a cell a spreadsheet
//! would run as a formula (beginning with =, +, -, @, tab or return) gets a leading
//! apostrophe, which `unguard` takes off again when Yishi reads its own file back.

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

pub fn guard(cell: &str) -> String {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_guarded_and_read_back() {
        for cell in ["=SUM(A1)", "+86 138", "-1", "@cmd", "\tx"] {
            assert_eq!(guard(cell), format!("'{cell}"));
            assert_eq!(unguard(&guard(cell)), cell);
        }
        assert_eq!(guard("王伟"), "王伟");
        assert_eq!(unguard("'plain"), "'plain");
    }
}
