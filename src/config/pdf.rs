//! The PDF options as flags (`convert`, `submit`) and as the worker's
//! defaults (`PDFA`, `PDFUA`, `TAGGED`, `SINGLE_PAGE_SHEETS`,
//! `FONT_POLICY`, `WATERMARK`, `COMMENTS`, `CHANGES`, `PREVIEW`, `PDF_TITLE`,
//! `PDF_AUTHOR`, `PDF_SUBJECT`, `PDF_KEYWORDS`, `CLEAR_METADATA`, `PASSWORD_SECRET`,
//! `CSV_SEPARATOR`, `CSV_ENCODING`, `CSV_DECIMAL`).

use clap::Args;

use crate::options::{BadOption, PdfOptions, Setting};

#[derive(Clone, Debug, Args)]
pub struct OptionArgs {
    /// Make PDF/A: 1b, 2b or 3b (fonts embedded)
    #[arg(long, env = "PDFA", value_parser = pdfa)]
    pub pdfa: Option<Setting>,
    /// Make PDF/UA, the accessible PDF (implies --tagged)
    #[arg(long, env = "PDFUA")]
    pub pdfua: bool,
    /// Make a tagged PDF
    #[arg(long, env = "TAGGED")]
    pub tagged: bool,
    /// Only these pages, such as 1-3,7
    #[arg(long, value_parser = pages)]
    pub pages: Option<Setting>,
    /// Each sheet of a spreadsheet on one page
    #[arg(long, env = "SINGLE_PAGE_SHEETS")]
    pub single_page_sheets: bool,
    /// When fonts are missing: substitute (default), warn, fail-missing-glyphs
    /// (refuse text drawn as empty boxes) or fail-different-metrics (refuse
    /// fonts of other widths too)
    #[arg(long, env = "FONT_POLICY", value_parser = font_policy)]
    pub font_policy: Option<Setting>,
    /// A line of text across every page, such as DRAFT (at most 200 characters)
    #[arg(long, env = "WATERMARK", value_parser = watermark)]
    pub watermark: Option<Setting>,
    /// The document's comments: annotations (PDF notes a reader opens; the default) or none
    #[arg(long, env = "COMMENTS", value_parser = comments)]
    pub comments: Option<Setting>,
    /// A Word document's tracked changes: show (marked, as Word prints them with markup) or hide (as if every change were accepted) [default: as the document's own view says]
    #[arg(long, env = "CHANGES", value_parser = |v: &str| Setting::parse("changes", v))]
    pub changes: Option<Setting>,
    /// Also a PNG of page 1 this many pixels wide (16 to 2048), beside the PDF: NAME.png for NAME.pdf
    #[arg(long, env = "PREVIEW", value_parser = |v: &str| Setting::parse("preview", v))]
    pub preview: Option<Setting>,
    /// The PDF's title, over the document's own (at most 200 characters)
    #[arg(long, env = "PDF_TITLE", value_parser = |v: &str| Setting::parse("title", v))]
    pub title: Option<Setting>,
    /// The PDF's author, over the document's own
    #[arg(long, env = "PDF_AUTHOR", value_parser = |v: &str| Setting::parse("author", v))]
    pub author: Option<Setting>,
    /// The PDF's subject, over the document's own
    #[arg(long, env = "PDF_SUBJECT", value_parser = |v: &str| Setting::parse("subject", v))]
    pub subject: Option<Setting>,
    /// The PDF's keywords, over the document's own
    #[arg(long, env = "PDF_KEYWORDS", value_parser = |v: &str| Setting::parse("keywords", v))]
    pub keywords: Option<Setting>,
    /// The name of the password, in PASSWORDS_DIR, that opens a password-protected .docx, .xlsx or .pptx
    #[arg(long, env = "PASSWORD_SECRET", value_parser = |v: &str| Setting::parse("password-secret", v))]
    pub password_secret: Option<Setting>,
    /// The PDF carries none of the document's own properties (title, author, ...)
    #[arg(long, env = "CLEAR_METADATA")]
    pub clear_metadata: bool,
    /// A .csv's separator: , ; tab or | [default: detected from its first lines]
    #[arg(long, env = "CSV_SEPARATOR", value_parser = |v: &str| Setting::parse("csv-separator", v))]
    pub csv_separator: Option<Setting>,
    /// A .csv's encoding: utf-8, utf-16, utf-16le, utf-16be, windows-1252, iso-8859-1 or shift_jis [default: detected]
    #[arg(long, env = "CSV_ENCODING", value_parser = |v: &str| Setting::parse("csv-encoding", v))]
    pub csv_encoding: Option<Setting>,
    /// A .csv's decimal mark: . or , [default: detected]
    #[arg(long, env = "CSV_DECIMAL", value_parser = |v: &str| Setting::parse("csv-decimal", v))]
    pub csv_decimal: Option<Setting>,
}

impl OptionArgs {
    /// The options, checked by clap as it read them.
    pub fn options(&self) -> PdfOptions {
        let mut options = PdfOptions {
            pdfua: self.pdfua,
            tagged: self.tagged,
            single_page_sheets: self.single_page_sheets,
            ..PdfOptions::default()
        };
        options.properties.clear = self.clear_metadata;
        let settings = [
            &self.pdfa,
            &self.pages,
            &self.font_policy,
            &self.watermark,
            &self.comments,
            &self.changes,
            &self.preview,
            &self.title,
            &self.author,
            &self.subject,
            &self.keywords,
            &self.password_secret,
            &self.csv_separator,
            &self.csv_encoding,
            &self.csv_decimal,
        ];
        for setting in settings.into_iter().flatten() {
            options.apply(setting);
        }
        options
    }
}

fn pdfa(value: &str) -> Result<Setting, BadOption> {
    Setting::parse("pdfa", value)
}

fn pages(value: &str) -> Result<Setting, BadOption> {
    Setting::parse("pages", value)
}

fn font_policy(value: &str) -> Result<Setting, BadOption> {
    Setting::parse("font-policy", value)
}

fn watermark(value: &str) -> Result<Setting, BadOption> {
    Setting::parse("watermark", value)
}

fn comments(value: &str) -> Result<Setting, BadOption> {
    Setting::parse("comments", value)
}
