package document

import (
	"fmt"
	"unicode"

	"golang.org/x/image/font/sfnt"

	"github.com/shuxinqian/server/domain/kernel"
)

// Printable reports whether the issuer can print text on an invoice: every character has a
// glyph in its fonts, and there are no combining marks (the PDF draws characters one by one, so a
// mark would stand alone) and no control characters. Called when the invoice is requested, so an
// unprintable title is a 422 then instead of an invoice that fails for good later.
func (i *InvoiceIssuer) Printable(field, text string) error {
	for _, c := range text {
		if unicode.In(c, unicode.Mn, unicode.Me, unicode.Mc) {
			return kernel.Invalid("invoice-text-unprintable", fmt.Sprintf("%s: the character %q (a combining mark) cannot be printed on the invoice", field, c)).
				WithDetail("field", field)
		}
	}
	var buf sfnt.Buffer
	if _, err := i.r.drawable(&buf, text); err != nil {
		return kernel.Invalid("invoice-text-unprintable", field+": "+err.Error()+" on the invoice").WithDetail("field", field)
	}
	return nil
}
