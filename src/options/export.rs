//! The options as LibreOffice's PDF export settings: the JSON filter data
//! LibreOfficeKit takes.

use super::{Comments, PdfOptions};

impl PdfOptions {
    /// LibreOffice's PDF export settings, as the JSON LibreOfficeKit takes.
    pub fn filter_data(&self) -> String {
        let mut data = serde_json::Map::new();
        let mut put = |name: &str, kind: &str, value: String| {
            data.insert(
                name.to_string(),
                serde_json::json!({"type": kind, "value": value}),
            );
        };
        // Same JPEG quality as `soffice --convert-to pdf`; LibreOfficeKit's default is lower.
        put("Quality", "long", "90".into());
        if let Some(pdfa) = self.pdfa {
            put("SelectPdfVersion", "long", pdfa.version().to_string());
        }
        if self.pdfua {
            put("PDFUACompliance", "boolean", "true".into());
        }
        if self.tagged || self.pdfua {
            put("UseTaggedPDF", "boolean", "true".into());
        }
        if let Some(pages) = &self.pages {
            put("PageRange", "string", pages.clone());
        }
        if self.single_page_sheets {
            put("SinglePageSheets", "boolean", "true".into());
        }
        if let Some(text) = &self.watermark {
            put("Watermark", "string", text.clone());
            // LibreOffice's own default is a bright green.
            put("WatermarkColor", "long", WATERMARK_GREY.to_string());
            put("WatermarkFontName", "string", WATERMARK_FONT.into());
            // Diagonal, as Word's; LibreOffice's own runs it up the page.
            put("WatermarkRotateAngle", "long", "450".into());
            put(
                "WatermarkFontHeight",
                "long",
                watermark_height(text).to_string(),
            );
        }
        match self.comments {
            Comments::Annotations => {}
            Comments::None => put("ExportNotes", "boolean", "false".into()),
        }
        serde_json::Value::Object(data).to_string()
    }
}

/// The watermark's font: installed everywhere we run, so the fidelity
/// report knows it for ours, not the document's.
pub const WATERMARK_FONT: &str = "Liberation Sans";

/// The watermark's colour, 0xRRGGBB: a light grey that leaves the text
/// under it readable.
const WATERMARK_GREY: u32 = 0xC0C0C0;

/// The watermark's font height, in points: its text about 600 points long
/// (it fit across a US Letter page and a 16:9 slide, looked at), at the 0.65 of
/// the height a character of LibreOffice's watermark font takes (measured);
/// 72 points at most.
fn watermark_height(text: &str) -> u32 {
    let characters = text.chars().count().max(1) as f64;
    (600.0 / (0.65 * characters)).clamp(8.0, 72.0) as u32
}
