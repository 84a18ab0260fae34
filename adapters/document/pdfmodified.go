package document

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/digitorus/pdf"
)

// compareBudget bounds the objects one comparison of two revisions visits, streamBudget the
// decoded stream bytes it reads (a deflate bomb stops there and counts as a change).
const (
	compareBudget = 400_000
	streamBudget  = 64 << 20
)

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
		touched, known := touchedObjects(full[end:])
		why = revisionChange(old, cur, touched, known)
		return nil
	})
	if err != nil {
		return true, "the later revisions cannot be compared with the signed one"
	}
	return why != "", why
}

// revisionChange describes the first change between two revisions that is more than signing, ""
// when there is none.
func revisionChange(old, cur *pdf.Reader, touched map[int]bool, known bool) string {
	c := &comparer{budget: compareBudget, bytes: streamBudget, same: map[[2]any]bool{}, touched: touched, known: known}
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
	if c.budget <= 0 || c.bytes <= 0 {
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
	bytes  int64
	// touched are the objects the later revisions' xref tables list (known false: the updates
	// use cross-reference streams, so any object may have changed). A stream no later xref
	// lists is the same bytes in both revisions: its data is not read.
	touched map[int]bool
	known   bool
	same    map[[2]any]bool // pairs of indirect objects already found equal
}

func (c *comparer) equal(a, b pdf.Value, skip ...string) bool {
	return c.eq(a, b, 0, skip)
}

func (c *comparer) eq(a, b pdf.Value, depth int, skip []string) bool {
	c.budget--
	if c.budget <= 0 || c.bytes <= 0 || depth > 48 {
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

// sameStream compares the data of two streams: the same object that no later revision touched is
// the same bytes; otherwise the decoded data are compared (a filter the reader cannot decode counts
// as a change).
func (c *comparer) sameStream(a, b pdf.Value) (same bool) {
	if pa, pb := a.GetPtr(), b.GetPtr(); c.known && pa == pb {
		if id, ok := objectNumber(pa); ok && !c.touched[id] {
			return true
		}
	}
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	read := func(v pdf.Value) ([]byte, bool) {
		rc := v.Reader()
		defer func() { _ = rc.Close() }()
		data, err := io.ReadAll(io.LimitReader(rc, c.bytes+1))
		c.bytes -= int64(len(data))
		return data, err == nil && c.bytes >= 0
	}
	da, okA := read(a)
	if !okA {
		return false
	}
	db, okB := read(b)
	return okB && bytes.Equal(da, db)
}

// objectNumber is the object number of an indirect reference (the reader keeps it unexported;
// it prints as {id gen}).
func objectNumber(ptr any) (int, bool) {
	var id, gen int
	if n, err := fmt.Sscanf(fmt.Sprint(ptr), "{%d %d}", &id, &gen); err != nil || n != 2 || id <= 0 {
		return 0, false
	}
	return id, true
}

// touchedObjects lists the object numbers the cross-reference tables of update (the bytes after a
// signed revision) give entries for. It is not known (false) when the update uses
// cross-reference or object streams, whose entries are compressed.
func touchedObjects(update []byte) (map[int]bool, bool) {
	if bytes.Contains(update, []byte("/XRef")) || bytes.Contains(update, []byte("/ObjStm")) {
		return nil, false
	}
	touched := map[int]bool{}
	for rest := update; ; {
		i := bytes.Index(rest, []byte("xref"))
		if i < 0 {
			break
		}
		if i > 0 && rest[i-1] == 't' { // "startxref"
			rest = rest[i+4:]
			continue
		}
		lines := strings.Split(string(rest[i+4:min(len(rest), i+4+64<<10)]), "\n")
		start, left := 0, 0
		for _, line := range lines {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if left > 0 {
				touched[start] = true
				start++
				left--
				continue
			}
			var a, n int
			if k, err := fmt.Sscanf(line, "%d %d", &a, &n); err != nil || k != 2 || strings.Count(line, " ") != 1 {
				break // "trailer" or anything else ends the table
			}
			if n > 100_000 {
				return nil, false
			}
			start, left = a, n
		}
		rest = rest[i+4:]
	}
	return touched, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
