package document

import (
	"bytes"
	"fmt"
	"io"

	"github.com/digitorus/pdf"
)

// compareBudget bounds the objects (and stream kilobytes) one comparison of two revisions reads.
const compareBudget = 400_000

// modifiedAfter tells whether the revisions appended after the one that ends at end (a
// signature's revision) changed the document beyond what later signing adds: signature fields,
// their widgets and appearances, the AcroForm that lists them, a DSS (validation data) and the
// empty name tree some signers add. It compares the signed revision with the whole file: the page
// tree (every page's dictionary, content and resources, deeply), each page's annotations (the
// old ones unchanged; new ones only signature widgets) and the catalog. When the revisions cannot
// be compared it answers true with the reason.
func modifiedAfter(full []byte, end int64) (modified bool, why string) {
	if end >= int64(len(full)) {
		return false, ""
	}
	if end <= 0 {
		return true, "the signed revision cannot be found"
	}
	err := guard(func() error {
		old, err := pdf.NewReader(bytes.NewReader(full[:end]), end)
		if err != nil {
			return err
		}
		cur, err := pdf.NewReader(bytes.NewReader(full), int64(len(full)))
		if err != nil {
			return err
		}
		why = revisionChange(old, cur)
		return nil
	})
	if err != nil {
		return true, "the later revisions cannot be compared with the signed one"
	}
	return why != "", why
}

// revisionChange describes the first change between two revisions that is more than signing, ""
// when there is none.
func revisionChange(old, cur *pdf.Reader) string {
	c := &comparer{budget: compareBudget, same: map[[2]any]bool{}}
	op, err := pageTree(old)
	if err != nil {
		return "the signed revision's pages cannot be read"
	}
	cp, err := pageTree(cur)
	if err != nil {
		return "the current pages cannot be read"
	}
	if len(op) != len(cp) {
		return fmt.Sprintf("pages were added or removed (%d, now %d)", len(op), len(cp))
	}
	for i := range op {
		if !c.equal(op[i].V, cp[i].V, "Parent", "Annots") {
			return fmt.Sprintf("page %d was changed", i+1)
		}
		oa, ca := op[i].V.Key("Annots"), cp[i].V.Key("Annots")
		if ca.Len() < oa.Len() {
			return fmt.Sprintf("annotations were removed from page %d", i+1)
		}
		for k := 0; k < oa.Len(); k++ {
			if !c.equal(oa.Index(k), ca.Index(k), "P", "Parent", "V") || !c.sigValueKept(oa.Index(k), ca.Index(k)) {
				return fmt.Sprintf("an annotation on page %d was changed", i+1)
			}
		}
		for k := oa.Len(); k < ca.Len(); k++ {
			if !isSignatureWidget(ca.Index(k)) {
				return fmt.Sprintf("an annotation other than a signature was added on page %d", i+1)
			}
		}
	}
	oroot, croot := old.Trailer().Key("Root"), cur.Trailer().Key("Root")
	if !c.equal(oroot, croot, "Pages", "AcroForm", "DSS", "Names", "Perms", "Version") {
		return "the document catalog was changed"
	}
	if !c.equal(oroot.Key("Perms"), croot.Key("Perms")) && !oroot.Key("Perms").IsNull() {
		return "the document's permissions were changed"
	}
	if !c.equal(oroot.Key("Names"), croot.Key("Names")) && !emptyNames(croot.Key("Names")) {
		return "the document's name tree (attachments, scripts) was changed"
	}
	of, cf := oroot.Key("AcroForm").Key("Fields"), croot.Key("AcroForm").Key("Fields")
	if cf.Len() < of.Len() {
		return "form fields were removed"
	}
	for k := 0; k < of.Len(); k++ {
		if !c.equal(of.Index(k), cf.Index(k), "P", "Parent", "V", "Kids") || !c.sigValueKept(of.Index(k), cf.Index(k)) {
			return "a form field was changed"
		}
	}
	for k := of.Len(); k < cf.Len(); k++ {
		if fieldType(cf.Index(k)) != "Sig" {
			return "a form field other than a signature was added"
		}
	}
	if c.budget <= 0 {
		return "the revisions are too large to compare"
	}
	return ""
}

// sigValueKept: a field's value may be set later only on a signature field that had none.
func (c *comparer) sigValueKept(o, n pdf.Value) bool {
	if o.Key("V").IsNull() {
		return n.Key("V").IsNull() || fieldType(n) == "Sig"
	}
	return c.equal(o.Key("V"), n.Key("V"))
}

func fieldType(v pdf.Value) string {
	for depth := 0; depth < 16 && !v.IsNull(); depth++ {
		if ft := v.Key("FT").Name(); ft != "" {
			return ft
		}
		v = v.Key("Parent")
	}
	return ""
}

func isSignatureWidget(v pdf.Value) bool {
	return v.Key("Subtype").Name() == "Widget" && fieldType(v) == "Sig"
}

// emptyNames: the name tree only has an empty EmbeddedFiles entry (pdfsign adds one).
func emptyNames(v pdf.Value) bool {
	for _, k := range v.Keys() {
		if k != "EmbeddedFiles" || v.Key(k).Key("Names").Len() != 0 || v.Key(k).Key("Kids").Len() != 0 {
			return false
		}
	}
	return true
}

// comparer compares values of two revisions deeply, within a budget.
type comparer struct {
	budget int
	same   map[[2]any]bool // pairs of indirect objects already found equal
}

func (c *comparer) equal(a, b pdf.Value, skip ...string) bool {
	return c.eq(a, b, 0, skip)
}

func (c *comparer) eq(a, b pdf.Value, depth int, skip []string) bool {
	c.budget--
	if c.budget <= 0 || depth > 48 {
		return false
	}
	if a.Kind() != b.Kind() {
		return false
	}
	pa, pb := a.GetPtr(), b.GetPtr()
	key := [2]any{pa, pb}
	noPtr := pdf.Value{}.GetPtr()
	indirect := pa != noPtr && pb != noPtr && len(skip) == 0
	if indirect {
		if done, ok := c.same[key]; ok {
			return done
		}
		c.same[key] = true // a cycle back here compares equal so far
	}
	ok := c.eqValue(a, b, depth, skip)
	if indirect {
		c.same[key] = ok
	}
	return ok
}

func (c *comparer) eqValue(a, b pdf.Value, depth int, skip []string) bool {
	switch a.Kind() {
	case pdf.Null:
		return true
	case pdf.Dict, pdf.Stream:
		ak, bk := a.Keys(), b.Keys()
		keys := map[string]bool{}
		for _, k := range ak {
			keys[k] = true
		}
		for _, k := range bk {
			keys[k] = true
		}
		for k := range keys {
			if contains(skip, k) {
				continue
			}
			if k == "Parent" || k == "P" { // back links: compared where they point from
				if a.Key(k).IsNull() != b.Key(k).IsNull() {
					return false
				}
				continue
			}
			if !c.eq(a.Key(k), b.Key(k), depth+1, nil) {
				return false
			}
		}
		if a.Kind() == pdf.Stream {
			return c.sameStream(a, b)
		}
		return true
	case pdf.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !c.eq(a.Index(i), b.Index(i), depth+1, nil) {
				return false
			}
		}
		return true
	default:
		return a.String() == b.String()
	}
}

// sameStream compares the decoded data of two streams.
func (c *comparer) sameStream(a, b pdf.Value) bool {
	read := func(v pdf.Value) ([]byte, bool) {
		rc := v.Reader()
		defer func() { _ = rc.Close() }()
		data, err := io.ReadAll(io.LimitReader(rc, int64(c.budget)<<10+1))
		return data, err == nil
	}
	da, okA := read(a)
	db, okB := read(b)
	c.budget -= (len(da) + len(db)) >> 10
	return okA && okB && bytes.Equal(da, db)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
