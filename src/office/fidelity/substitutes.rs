//! Our stand-ins for Office fonts without a free metric-compatible twin
//! (Aptos, Verdana, Tahoma, Segoe UI, Georgia, chosen by width; the East
//! Asian faces, by style and language). The table
//! is `fonts/30-docx2pdf-substitutes.conf`, which fontconfig applies for
//! LibreOffice; it is read here from the same file, so the fidelity report
//! can say that a font was replaced by our closest-width choice, which is
//! close but not exact.

use std::sync::OnceLock;

/// The fontconfig file `./dev/setup` and the image install.
pub const CONFIG: &str = include_str!("../../../fonts/30-docx2pdf-substitutes.conf");

/// A font, and the installed font that stands in for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Substitute {
    pub original: String,
    pub stand_in: String,
}

/// Every rule of [`CONFIG`], in its order.
pub fn table() -> &'static [Substitute] {
    static TABLE: OnceLock<Vec<Substitute>> = OnceLock::new();
    TABLE.get_or_init(|| parse(CONFIG))
}

/// The `<alias>` rules of a fontconfig file that accept one family for another.
fn parse(config: &str) -> Vec<Substitute> {
    config
        .split("<alias")
        .skip(1)
        .filter_map(|alias| {
            let alias = alias.split("</alias>").next()?;
            let (original, rest) = alias.split_once("<accept>")?;
            Some(Substitute {
                original: family(original)?,
                stand_in: family(rest)?,
            })
        })
        .collect()
}

/// The first `<family>` named in `xml`.
fn family(xml: &str) -> Option<String> {
    let start = xml.find("<family>")? + "<family>".len();
    let end = start + xml[start..].find("</family>")?;
    Some(xml[start..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_has_a_stand_in_for_each_font_without_a_twin() {
        let pairs: Vec<(&str, &str)> = table()
            .iter()
            .map(|s| (s.original.as_str(), s.stand_in.as_str()))
            .collect();
        assert_eq!(
            pairs[..5],
            [
                ("Aptos", "Carlito"),
                ("Verdana", "DejaVu Sans"),
                ("Tahoma", "Noto Sans Display"),
                ("Segoe UI", "Liberation Sans"),
                ("Georgia", "Charis SIL"),
            ]
        );
        // East Asian faces, by style and language, under either name.
        for pair in [
            ("ＭＳ 明朝", "Noto Serif CJK JP"),
            ("Yu Gothic", "Noto Sans CJK JP"),
            ("맑은 고딕", "Noto Sans CJK KR"),
            ("Batang", "Noto Serif CJK KR"),
            ("SimSun", "Noto Serif CJK SC"),
            ("Microsoft YaHei", "Noto Sans CJK SC"),
            ("PMingLiU", "Noto Serif CJK TC"),
            ("Aptos Display", "Carlito"),
        ] {
            assert!(pairs.contains(&pair), "{pair:?}");
        }
    }

    #[test]
    fn comments_and_other_rules_are_not_read_as_substitutes() {
        let config = r#"<fontconfig><!-- <family>Nope</family> -->
            <alias><family>A</family><prefer><family>B</family></prefer></alias>
            <alias binding="same"><family>C</family><accept><family> D </family></accept></alias>
            </fontconfig>"#;
        assert_eq!(
            parse(config),
            [Substitute {
                original: "C".into(),
                stand_in: "D".into()
            }]
        );
    }
}
