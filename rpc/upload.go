package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Upload is a file sent to an upload method. It is spooled to a temporary
// file that is removed when the handler returns: copy it to keep it.
type Upload struct {
	// Filename is the base name the client gave, without any directory.
	Filename    string
	ContentType string
	Size        int64
	path        string
}

// Open opens the uploaded file for reading.
func (u *Upload) Open() (*os.File, error) {
	f, err := os.Open(u.path)
	if err != nil {
		return nil, fmt.Errorf("rpc: open upload: %w", err)
	}
	return f, nil
}

func (u *Upload) remove() {
	if u.path != "" {
		_ = os.Remove(u.path)
	}
}

// readMultipart reads an upload: a "file" part, spooled to disk within the
// method's limit, and an optional "params" part holding the JSON parameters.
// Nothing of a refused upload is kept.
func (r *Registry) readMultipart(w http.ResponseWriter, req *http.Request, m *method) (raws []json.RawMessage, up *Upload, e *Error) {
	defer func() {
		if e != nil && up != nil {
			up.remove()
			up = nil
		}
	}()
	paramsLimit := r.opts.MaxBodyBytes
	if m.MaxBodyBytes > 0 {
		paramsLimit = m.MaxBodyBytes
	}
	// Room for the part headers and boundaries beyond the file and params.
	req.Body = http.MaxBytesReader(w, req.Body, m.MaxUploadBytes+paramsLimit+64<<10)
	mr, err := req.MultipartReader()
	if err != nil {
		return nil, nil, BadRequest("malformed multipart body: %s", "no boundary")
	}
	tooLarge := Errorf(CodeTooLarge, "upload is larger than %d bytes", m.MaxUploadBytes)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if isMaxBytes(err) {
				return nil, up, tooLarge
			}
			return nil, up, BadRequest("malformed multipart body")
		}
		switch part.FormName() {
		case "params":
			b, err := io.ReadAll(io.LimitReader(part, paramsLimit+1))
			if err != nil {
				if isMaxBytes(err) {
					return nil, up, tooLarge
				}
				return nil, up, BadRequest("malformed multipart body")
			}
			if int64(len(b)) > paramsLimit {
				return nil, up, Errorf(CodeTooLarge, "params part is larger than %d bytes", paramsLimit)
			}
			parse := parseBody
			if strings.EqualFold(mediaType(part.Header.Get("Content-Type")), ContentTypeMsgpack) {
				parse = parseMsgpackBody
			}
			in, e := parse(b)
			if e != nil {
				return nil, up, e
			}
			if in.method != "" || in.named != nil {
				return nil, up, InvalidParams("the params part is a JSON array of parameters")
			}
			raws = in.raws
		case "file":
			if up != nil {
				return nil, up, BadRequest("more than one file part: an upload takes one")
			}
			if up, e = r.spool(part.FileName(), part.Header.Get("Content-Type"), part, m.MaxUploadBytes); e != nil {
				return nil, up, e
			}
		default:
			return nil, up, BadRequest("unexpected multipart part %q: send \"file\" and optionally \"params\"", part.FormName())
		}
	}
	return raws, up, nil
}

// spool copies a file part to a temporary file, refusing it past limit.
func (r *Registry) spool(name, contentType string, src io.Reader, limit int64) (*Upload, *Error) {
	f, err := os.CreateTemp(r.opts.UploadDir, "authrpc-upload-*")
	if err != nil {
		r.log.Error("rpc: spool upload", "err", err)
		return nil, errInternal
	}
	up := &Upload{Filename: cleanFilename(name), ContentType: contentType, path: f.Name()}
	n, err := io.Copy(f, io.LimitReader(src, limit+1))
	up.Size = n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case n > limit || isMaxBytes(err):
		up.remove()
		return nil, Errorf(CodeTooLarge, "upload is larger than %d bytes", limit)
	case err != nil:
		up.remove()
		return nil, BadRequest("the upload was cut short")
	}
	return up, nil
}

func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// cleanFilename keeps the base name of a client's file name: never a path.
func cleanFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = filepath.Base(name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	return name
}
