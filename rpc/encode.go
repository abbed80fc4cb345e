package rpc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// writeResult sends a successful answer:
//
//	{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":…,"meta":{…}}}
func (r *Registry) writeResult(w http.ResponseWriter, id json.RawMessage, res Result) error {
	code := res.Code
	if code == 0 {
		code = CodeOK
	}
	var data []byte
	if res.Data != nil {
		var err error
		if data, err = json.Marshal(res.Data); err != nil {
			return err
		}
	}
	buf := bufferPool.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	buf.WriteString(`{"jsonrpc":"2.0",`)
	writeID(buf, id)
	buf.WriteString(`"result":{"status":`)
	buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(code), 10))
	buf.WriteString(`,"status_text":`)
	writeString(buf, StatusText(code))
	buf.WriteString(`,"exception":false`)
	if data != nil {
		buf.WriteString(`,"data":`)
		buf.Write(data)
	}
	buf.WriteString(`,"meta":`)
	if err := writeMeta(buf, res.Meta); err != nil {
		return err
	}
	buf.WriteString("}}")
	send(w, HTTPStatus(code), buf.Bytes())
	return nil
}

// writeError sends a failure:
//
//	{"jsonrpc":"2.0","error":{"code":401,"message":"…","data":{"exception":false,"meta":{}}}}
func (r *Registry) writeError(w http.ResponseWriter, id json.RawMessage, e *Error) {
	buf := bufferPool.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	buf.WriteString(`{"jsonrpc":"2.0",`)
	writeID(buf, id)
	buf.WriteString(`"error":{"code":`)
	buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(e.Code), 10))
	buf.WriteString(`,"message":`)
	writeString(buf, e.Message)
	buf.WriteString(`,"data":{"exception":`)
	buf.WriteString(strconv.FormatBool(e.Code == CodeInternal))
	buf.WriteString(`,"meta":`)
	if err := writeMeta(buf, e.Meta); err != nil {
		r.log.Error("rpc: encode error meta", "err", err)
		buf.WriteString("{}")
	}
	buf.WriteString("}}}")
	setRetryAfter(w.Header(), e)
	send(w, HTTPStatus(e.Code), buf.Bytes())
}

// Header values shared by every answer; net/http only reads them.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

func send(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeID(buf *bytes.Buffer, id json.RawMessage) {
	if len(id) == 0 {
		return
	}
	buf.WriteString(`"id":`)
	buf.Write(id)
	buf.WriteByte(',')
}

func writeMeta(buf *bytes.Buffer, meta map[string]any) error {
	if len(meta) == 0 {
		buf.WriteString("{}")
		return nil
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
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
