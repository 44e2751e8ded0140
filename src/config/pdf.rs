//! The PDF options as flags (`convert`, `submit`) and as the worker's
//! defaults (`PDFA`, `PDFUA`, `TAGGED`, `SINGLE_PAGE_SHEETS`).

use clap::Args;

use crate::options::PdfOptions;

#[derive(Clone, Debug, Args)]
pub struct OptionArgs {
    /// Make PDF/A: 1b, 2b or 3b (fonts embedded)
    #[arg(long, env = "PDFA")]
    pub pdfa: Option<String>,
    /// Make PDF/UA, the accessible PDF (implies --tagged)
    #[arg(long, env = "PDFUA")]
    pub pdfua: bool,
    /// Make a tagged PDF
    #[arg(long, env = "TAGGED")]
    pub tagged: bool,
    /// Only these pages, such as 1-3,7
    #[arg(long)]
    pub pages: Option<String>,
    /// Each sheet of a spreadsheet on one page
    #[arg(long, env = "SINGLE_PAGE_SHEETS")]
    pub single_page_sheets: bool,
}

impl OptionArgs {
    /// The options, checked; a bad value names the flag and what is allowed.
    pub fn options(&self) -> anyhow::Result<PdfOptions> {
        let mut options = PdfOptions::default();
        let flag = |on: bool| on.then_some("true");
        let given = [
            ("pdfa", self.pdfa.as_deref()),
            ("pdfua", flag(self.pdfua)),
            ("tagged", flag(self.tagged)),
            ("pages", self.pages.as_deref()),
            ("single-page-sheets", flag(self.single_page_sheets)),
        ];
        for (name, value) in given {
            if let Some(value) = value {
                options
                    .set(name, value)
                    .map_err(|e| anyhow::anyhow!("--{name}: {e}"))?;
            }
        }
        Ok(options)
    }
}
