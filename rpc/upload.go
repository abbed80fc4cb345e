package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/authrpc/authrpc/auth"
)

// Upload is a file sent to an upload method. It is spooled to a temporary
// file that is removed when the handler returns: copy it to keep it.
type Upload struct {
	// Filename is the base name the client gave, without any directory.
	Filename    string
	ContentType string
	Size        int64
	path        string
	unreserve   func() // gives its share of the spool budget back
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
		u.path = ""
	}
	if u.unreserve != nil {
		u.unreserve()
		u.unreserve = nil
	}
}

// spoolBudget bounds the uploads in flight, in number and in bytes, in all
// and per client address.
type spoolBudget struct {
	maxCount, maxAddrCount int
	maxBytes, maxAddrBytes int64

	mu     sync.Mutex
	all    spoolShare
	byAddr map[string]spoolShare // only addresses with uploads in flight
}

type spoolShare struct {
	count int
	bytes int64
}

func newSpoolBudget(o Options) *spoolBudget {
	return &spoolBudget{
		maxCount: o.MaxUploads, maxAddrCount: o.MaxUploadsPerAddr,
		maxBytes: o.MaxSpooledBytes, maxAddrBytes: o.MaxSpooledBytesPerAddr,
		byAddr: make(map[string]spoolShare),
	}
}

var (
	errTooManyUploads        = Errorf(CodeServiceUnavailable, "too many uploads in progress: try again shortly")
	errTooManyUploadsForAddr = Errorf(CodeServiceUnavailable, "too many uploads in progress from your address: try again shortly")
)

// reserve takes room for one upload of at most size bytes from a client
// address (its auth.AddrKey), or answers the refusal. An address's first
// upload is held only to the bounds in all, so that a method may take
// uploads as large as MaxSpooledBytes.
func (b *spoolBudget) reserve(addrKey string, size int64) *Error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.all.count >= b.maxCount || b.all.bytes+size > b.maxBytes {
		return errTooManyUploads
	}
	mine := b.byAddr[addrKey]
	if mine.count >= b.maxAddrCount || (mine.count > 0 && mine.bytes+size > b.maxAddrBytes) {
		return errTooManyUploadsForAddr
	}
	b.all.count++
	b.all.bytes += size
	b.byAddr[addrKey] = spoolShare{mine.count + 1, mine.bytes + size}
	return nil
}

func (b *spoolBudget) release(addrKey string, size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all.count--
	b.all.bytes -= size
	if mine := b.byAddr[addrKey]; mine.count > 1 {
		b.byAddr[addrKey] = spoolShare{mine.count - 1, mine.bytes - size}
	} else {
		delete(b.byAddr, addrKey)
	}
}

// readMultipart reads an upload: a "file" part, spooled to disk within the
// method's limit, and an optional "params" part holding the JSON parameters.
// Nothing of a refused upload is kept.
func (r *Registry) readMultipart(w http.ResponseWriter, req *http.Request, m *method, clientAddr string) (raws []json.RawMessage, up *Upload, e *Error) {
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
	bodyLimit := m.MaxUploadBytes + paramsLimit + 64<<10
	if req.ContentLength > bodyLimit {
		w.Header().Set("Connection", "close")
		return nil, nil, Errorf(CodeTooLarge, "upload is larger than %d bytes", m.MaxUploadBytes)
	}
	// The file spooled is never more than the body, nor than one byte past
	// the method's limit (at which it is refused).
	share := m.MaxUploadBytes + 1
	if req.ContentLength >= 0 && req.ContentLength < share {
		share = req.ContentLength
	}
	addrKey := auth.AddrKey(clientAddr)
	if e := r.uploads.reserve(addrKey, share); e != nil {
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "1")
		return nil, nil, e
	}
	unreserve := sync.OnceFunc(func() { r.uploads.release(addrKey, share) })
	defer func() {
		if up != nil {
			up.unreserve = unreserve // given back once the handler is done with it
		} else {
			unreserve()
		}
	}()
	timeout := r.bodyTimeout(m)
	deadline := r.limitBodyTime(w, req, timeout)
	defer func() {
		if e == nil {
			deadline.lift() // only once the body was read: see limitBodyTime
		}
	}()
	req.Body = http.MaxBytesReader(w, req.Body, bodyLimit)
	mr, err := req.MultipartReader()
	if err != nil {
		return nil, nil, BadRequest("malformed multipart body: %s", "no boundary")
	}
	tooLarge := Errorf(CodeTooLarge, "upload is larger than %d bytes", m.MaxUploadBytes)
	// readFailed answers a read of the body that failed.
	readFailed := func(err error, what string) *Error {
		switch {
		case isBodyTimeout(err):
			return bodyTimedOut(w, timeout)
		case isMaxBytes(err):
			return tooLarge
		}
		return BadRequest("%s", what)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, up, readFailed(err, "malformed multipart body")
		}
		switch part.FormName() {
		case "params":
			b, err := io.ReadAll(io.LimitReader(part, paramsLimit+1))
			if err != nil {
				return nil, up, readFailed(err, "malformed multipart body")
			}
			if int64(len(b)) > paramsLimit {
				return nil, up, Errorf(CodeTooLarge, "params part is larger than %d bytes", paramsLimit)
			}
			var in body
			var e *Error
			if strings.EqualFold(mediaType(part.Header.Get("Content-Type")), ContentTypeMsgpack) {
				in, e = parseMsgpackBody(b, paramsLimit)
			} else {
				in, e = parseBody(b)
			}
			if e != nil {
				return nil, up, e
			}
			if in.request {
				return nil, up, InvalidParams("the params part is a JSON array of parameters")
			}
			if in.paramsErr != nil {
				return nil, up, in.paramsErr
			}
			raws = in.raws
		case "file":
			if up != nil {
				return nil, up, BadRequest("more than one file part: an upload takes one")
			}
			if up, err = r.spool(req.Context(), part.FileName(), part.Header.Get("Content-Type"), part, m.MaxUploadBytes); err != nil {
				var e *Error
				if errors.As(err, &e) {
					return nil, up, e
				}
				return nil, up, readFailed(err, "the upload was cut short")
			}
		default:
			return nil, up, BadRequest("unexpected multipart part %q: send \"file\" and optionally \"params\"", part.FormName())
		}
	}
	return raws, up, nil
}

// spool copies a file part to a temporary file, refusing it past limit.
// It fails with an *Error to answer, or with the error of reading src;
// nothing of a failed upload is kept.
func (r *Registry) spool(ctx context.Context, name, contentType string, src io.Reader, limit int64) (*Upload, error) {
	f, err := os.CreateTemp(r.opts.UploadDir, "authrpc-upload-*")
	if err != nil {
		r.log.ErrorContext(ctx, "rpc: spool upload", "err", err)
		return nil, errInternal
	}
	up := &Upload{Filename: cleanFilename(name), ContentType: contentType, path: f.Name()}
	in := &readErr{r: io.LimitReader(src, limit+1)}
	n, err := io.Copy(f, in)
	up.Size = n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case n > limit:
		up.remove()
		return nil, Errorf(CodeTooLarge, "upload is larger than %d bytes", limit)
	case in.err != nil:
		up.remove()
		return nil, in.err
	case err != nil: // writing the temporary file
		up.remove()
		r.log.ErrorContext(ctx, "rpc: spool upload", "err", err)
		return nil, errInternal
	}
	return up, nil
}

// readErr remembers the error of its reader, to tell it from a write's.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
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

// withoutFile takes the file's place out of the positional parameters of a
// call without an upload to a method that takes the file first: there is
// no file, so the place is empty or null, and the rest are numbered as in
// an upload's params part after the file.
func (m *method) withoutFile(raws []json.RawMessage) ([]json.RawMessage, error) {
	if len(raws) == 0 {
		return raws, nil
	}
	if first := strings.TrimSpace(string(raws[0])); first != "" && first != "null" {
		return nil, InvalidParams("parameter 1 %q: the file is sent as the \"file\" part of a multipart/form-data upload", m.file.Name)
	}
	return raws[1:], nil
}

// removeUpload removes the call's spooled upload, if it has one, once the
// call no longer needs it.
func (c *Call) removeUpload() {
	if c.Upload != nil {
		c.Upload.remove()
	}
}
