package report

import "io"

// WriteHTML writes report.html.
func (r *Report) WriteHTML(w io.Writer) error {
	_, err := io.WriteString(w, "<!doctype html><title>splinter</title>")
	return err
}
