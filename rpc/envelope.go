package rpc

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"
)

// reply is a call's answer as the pipeline hands it to the transport.
type reply struct {
	status int    // the HTTP status of the answer's code
	body   []byte // the envelope in JSON; valid only while replier.reply runs
	// retryAfter is how long the error answered asks the caller to wait
	// (Error.WithRetryAfter); HTTP sends it as Retry-After.
	retryAfter time.Duration
	// badToken: the call's bearer token did not authenticate; HTTP sends
	// WWW-Authenticate (see invalidTokenChallenge).
	badToken bool
}

// replier sends the answers of a transport's calls, each in the encoding
// and the framing of the transport: an HTTP response in JSON or MessagePack
// (httpReplier), a WebSocket message (socketReplier).
type replier interface {
	reply(rp reply)
}

// writeResult sends a successful answer:
//
//	{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":…,"meta":{…}}}
//
// The data and meta are encoded straight into the pooled answer buffer.
// badToken is reply.badToken.
func (r *Registry) writeResult(w replier, id json.RawMessage, res Result, badToken bool) error {
	code := res.Code
	if code == 0 {
		code = CodeOK
	}
	status, text := HTTPStatus(code), StatusText(code)
	a := getAnswer()
	defer putAnswer(a)
	buf := &a.buf
	buf.WriteString(`{"jsonrpc":"2.0",`)
	writeID(buf, id)
	buf.WriteString(`"result":{"status":`)
	buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(code), 10))
	buf.WriteString(`,"status_text":`)
	writeString(buf, text)
	buf.WriteString(`,"exception":false`)
	if err := a.writeFields(res.Fields); err != nil {
		return err
	}
	switch data := res.Data.(type) {
	case nil:
	case json.RawMessage:
		// Sent as it is: encoding/json would check and compact it byte by
		// byte, which for a large answer costs more than making it.
		buf.WriteString(`,"data":`)
		if len(data) == 0 {
			buf.WriteString("null")
		}
		buf.Write(data)
	default:
		buf.WriteString(`,"data":`)
		if err := a.encode(data); err != nil {
			return err
		}
	}
	buf.WriteString(`,"meta":`)
	if err := a.writeMeta(res.Meta); err != nil {
		return err
	}
	buf.WriteString("}}")
	w.reply(reply{status: status, body: buf.Bytes(), badToken: badToken})
	return nil
}

// answer is a pooled buffer with a JSON encoder writing into it: encoding
// a value costs no copy of its own.
type answer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var answerPool = sync.Pool{New: func() any {
	a := new(answer)
	a.enc = json.NewEncoder(&a.buf)
	return a
}}

func getAnswer() *answer { return answerPool.Get().(*answer) }

// putAnswer returns a to the pool, unless a large answer grew it.
func putAnswer(a *answer) {
	if a.buf.Cap() <= 64<<10 {
		a.buf.Reset()
		answerPool.Put(a)
	}
}

// encode appends v as JSON, as json.Marshal writes it. The encoder writes
// nothing when it fails.
func (a *answer) encode(v any) error {
	if err := a.enc.Encode(v); err != nil {
		return err
	}
	a.buf.Truncate(a.buf.Len() - 1) // the encoder's newline
	return nil
}

// writeFields appends a Result's top-level fields, each after a comma, in
// the order of their keys, leaving out the envelope's own.
func (a *answer) writeFields(fields map[string]any) error {
	if len(fields) == 0 {
		return nil
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		switch k {
		case "status", "status_text", "exception", "data", "meta":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		a.buf.WriteByte(',')
		writeString(&a.buf, k)
		a.buf.WriteByte(':')
		if err := a.encode(fields[k]); err != nil {
			return err
		}
	}
	return nil
}

func (a *answer) writeMeta(meta map[string]any) error {
	if len(meta) == 0 {
		a.buf.WriteString("{}")
		return nil
	}
	return a.encode(meta)
}

// writeError sends a failure:
//
//	{"jsonrpc":"2.0","error":{"code":401,"message":"…","data":{"exception":false,"meta":{}}}}
func (r *Registry) writeError(w replier, id json.RawMessage, e *Error, badToken bool) {
	status := HTTPStatus(e.Code)
	a := getAnswer()
	defer putAnswer(a)
	buf := &a.buf
	buf.WriteString(`{"jsonrpc":"2.0",`)
	writeID(buf, id)
	buf.WriteString(`"error":{"code":`)
	buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(e.Code), 10))
	buf.WriteString(`,"message":`)
	writeString(buf, e.Message)
	buf.WriteString(`,"data":{"exception":`)
	buf.WriteString(strconv.FormatBool(e.Code == CodeInternal))
	buf.WriteString(`,"meta":`)
	if err := a.writeMeta(e.Meta); err != nil {
		r.log.Error("rpc: encode error meta", "err", err)
		buf.WriteString("{}")
	}
	buf.WriteString("}}}")
	w.reply(reply{status: status, body: buf.Bytes(), retryAfter: e.RetryAfter, badToken: badToken})
}

func writeID(buf *bytes.Buffer, id json.RawMessage) {
	if len(id) == 0 {
		return
	}
	buf.WriteString(`"id":`)
	buf.Write(id)
	buf.WriteByte(',')
}

// writeString writes s as a JSON string.
func writeString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			buf.Write(b)
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}
