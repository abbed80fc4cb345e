package rpc

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MessagePack is read by turning it into the JSON the rest of the pipeline
// checks and decodes, and answers are written as JSON first and then turned
// into MessagePack. Both encodings thus pass through the same schema checks
// and carry the same envelopes; MessagePack costs one conversion each way.

// ContentTypeMsgpack is the media type of MessagePack bodies and answers.
const ContentTypeMsgpack = "application/msgpack"

// msgpackMaxDepth bounds the nesting of a MessagePack value, as
// encoding/json bounds JSON's, so that a small message cannot recurse without end.
const msgpackMaxDepth = 1000

// errAbsent marks the 4.x client's encoding of an absent value: the
// extension type 0 with one zero byte (d4 00 00).
var errAbsent = errors.New("rpc: msgpack: absent value")

// parseMsgpackBody reads a MessagePack body as parseBody reads a JSON one: an
// array of positional parameters, any other value as the only parameter,
// nothing as none, or a JSON-RPC 2.0 request object (a map with "jsonrpc"
// and "method").
func parseMsgpackBody(b []byte) (body, *Error) { return parseMsgpackBodyInto(b, nil, nil) }

// parseMsgpackBodyInto is parseMsgpackBody appending the parameters of an
// array to raws and decoding them into pre, as parseBodyInto does.
func parseMsgpackBodyInto(b []byte, raws []json.RawMessage, pre *predecoded) (body, *Error) {
	if len(b) == 0 {
		return body{}, nil
	}
	j, err := msgpackToJSON(b)
	if errors.Is(err, errAbsent) {
		return body{}, nil
	}
	if err != nil {
		return body{}, Errorf(CodeParseError, "request body is not valid MessagePack: %s", err)
	}
	return parseBodyInto(j, raws, pre)
}

// msgpackToJSON converts one MessagePack value, which must fill b, to JSON.
// An absent value (ext 0) inside an array or map reads as null; at the top
// level or as a request object's params it is errAbsent.
func msgpackToJSON(b []byte) ([]byte, error) {
	rd := bytes.NewReader(b) // a ByteScanner: the decoder reads it unbuffered, so rd.Len() is what is left
	d := msgpack.NewDecoder(rd)
	var out bytes.Buffer
	out.Grow(len(b) + len(b)/2)
	c := &msgpackConv{d: d, rd: rd, out: &out}
	if err := c.value(0, true); err != nil {
		return nil, err
	}
	if _, err := d.PeekCode(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the first value")
	}
	return out.Bytes(), nil
}

type msgpackConv struct {
	d   *msgpack.Decoder
	rd  *bytes.Reader
	out *bytes.Buffer
}

// fits refuses a length that the bytes left cannot hold (each item takes
// one byte at least), before anything is allocated for it.
func (c *msgpackConv) fits(n, itemBytes int) error {
	if n < 0 || n > c.rd.Len()/itemBytes {
		return errors.New("a length runs past the end of the data")
	}
	return nil
}

// bytes reads a string's or binary's bytes.
func (c *msgpackConv) bytes() ([]byte, error) {
	n, err := c.d.DecodeBytesLen()
	if err != nil {
		return nil, shortErr(err)
	}
	if err := c.fits(n, 1); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if err := c.d.ReadFull(b); err != nil {
		return nil, shortErr(err)
	}
	return b, nil
}

// value converts the next value. top is set for the value whose absence
// means "no params" rather than null.
func (c *msgpackConv) value(depth int, top bool) error {
	if depth > msgpackMaxDepth {
		return errors.New("nested too deep")
	}
	code, err := c.d.PeekCode()
	if err != nil {
		return shortErr(err)
	}
	switch {
	case code == msgpcode.Nil:
		_ = c.d.DecodeNil()
		c.out.WriteString("null")
	case code == msgpcode.True || code == msgpcode.False:
		v, err := c.d.DecodeBool()
		if err != nil {
			return shortErr(err)
		}
		c.out.WriteString(strconv.FormatBool(v))
	case code <= msgpcode.PosFixedNumHigh, code >= msgpcode.Uint8 && code <= msgpcode.Uint64:
		v, err := c.d.DecodeUint64()
		if err != nil {
			return shortErr(err)
		}
		c.out.Write(strconv.AppendUint(c.out.AvailableBuffer(), v, 10))
	case code >= msgpcode.NegFixedNumLow, code >= msgpcode.Int8 && code <= msgpcode.Int64:
		v, err := c.d.DecodeInt64()
		if err != nil {
			return shortErr(err)
		}
		c.out.Write(strconv.AppendInt(c.out.AvailableBuffer(), v, 10))
	case code == msgpcode.Float || code == msgpcode.Double:
		v, err := c.d.DecodeFloat64()
		if err != nil {
			return shortErr(err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("NaN and infinities have no JSON form")
		}
		b, _ := json.Marshal(v)
		c.out.Write(b)
	case msgpcode.IsString(code):
		s, err := c.bytes()
		if err != nil {
			return err
		}
		if !utf8.Valid(s) {
			return errors.New("a string is not valid UTF-8")
		}
		writeString(c.out, string(s))
	case msgpcode.IsBin(code):
		v, err := c.bytes()
		if err != nil {
			return err
		}
		// Binary has no JSON form; it reads as encoding/json reads []byte.
		c.out.WriteByte('"')
		c.out.WriteString(base64.StdEncoding.EncodeToString(v))
		c.out.WriteByte('"')
	case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
		return c.array(depth)
	case msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32:
		return c.object(depth)
	case msgpcode.IsExt(code):
		return c.ext(top)
	default:
		return fmt.Errorf("unknown type 0x%02x", code)
	}
	return nil
}

func (c *msgpackConv) array(depth int) error {
	n, err := c.d.DecodeArrayLen()
	if err != nil {
		return shortErr(err)
	}
	if err := c.fits(n, 1); err != nil {
		return err
	}
	c.out.WriteByte('[')
	for i := range n {
		if i > 0 {
			c.out.WriteByte(',')
		}
		if err := c.value(depth+1, false); err != nil {
			return err
		}
	}
	c.out.WriteByte(']')
	return nil
}

func (c *msgpackConv) object(depth int) error {
	n, err := c.d.DecodeMapLen()
	if err != nil {
		return shortErr(err)
	}
	if err := c.fits(n, 2); err != nil {
		return err
	}
	c.out.WriteByte('{')
	for i := range n {
		if i > 0 {
			c.out.WriteByte(',')
		}
		code, err := c.d.PeekCode()
		if err != nil {
			return shortErr(err)
		}
		if !msgpcode.IsString(code) {
			return errors.New("a map key is not a string")
		}
		kb, err := c.bytes()
		if err != nil {
			return err
		}
		if !utf8.Valid(kb) {
			return errors.New("a map key is not valid UTF-8")
		}
		key := string(kb)
		writeString(c.out, key)
		c.out.WriteByte(':')
		// A request object's params may be the absent value.
		if err := c.value(depth+1, depth == 0 && key == "params"); err != nil {
			if errors.Is(err, errAbsent) {
				c.out.WriteString("null")
				continue
			}
			return err
		}
	}
	c.out.WriteByte('}')
	return nil
}

// ext reads an extension value: the absent value (type 0), or a timestamp
// (type -1), written as an RFC 3339 string in UTC.
func (c *msgpackConv) ext(top bool) error {
	id, n, err := c.d.DecodeExtHeader()
	if err != nil {
		return shortErr(err)
	}
	if n > 16 {
		return fmt.Errorf("extension type %d is not understood", id)
	}
	data := make([]byte, n)
	if err := c.d.ReadFull(data); err != nil {
		return shortErr(err)
	}
	switch {
	case id == 0:
		if top {
			return errAbsent
		}
		c.out.WriteString("null")
	case id == -1:
		t, err := msgpackTime(data)
		if err != nil {
			return err
		}
		c.out.WriteByte('"')
		c.out.Write(t.UTC().AppendFormat(c.out.AvailableBuffer(), time.RFC3339Nano))
		c.out.WriteByte('"')
	default:
		return fmt.Errorf("extension type %d is not understood", id)
	}
	return nil
}

// msgpackTime decodes the timestamp extension's three layouts.
func msgpackTime(b []byte) (time.Time, error) {
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0), nil
	case 8:
		v := binary.BigEndian.Uint64(b)
		return time.Unix(int64(v&(1<<34-1)), int64(v>>34)), nil
	case 12:
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(binary.BigEndian.Uint32(b[:4]))), nil
	}
	return time.Time{}, errors.New("a timestamp is malformed")
}

func shortErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of data")
	}
	return errors.New("malformed data")
}

// jsonToMsgpack converts a JSON document, such as an answer's envelope, to
// MessagePack. Objects keep their keys in the order JSON gave them, and
// numbers that are integers stay integers. It reads the JSON byte by byte,
// counting each container's items ahead (MessagePack writes the count
// first): the JSON is the registry's own, so this is cheap and exact.
func jsonToMsgpack(j []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(j))
	c := jsonConv{src: j, enc: msgpack.NewEncoder(&out)}
	c.enc.UseCompactInts(true)
	c.space()
	if err := c.value(0); err != nil {
		return nil, fmt.Errorf("rpc: msgpack: %w", err)
	}
	if c.space(); c.i != len(c.src) {
		return nil, errors.New("rpc: msgpack: data after the JSON value")
	}
	return out.Bytes(), nil
}

type jsonConv struct {
	src []byte
	i   int
	enc *msgpack.Encoder
}

var errBadJSON = errors.New("malformed JSON")

func (c *jsonConv) space() {
	for c.i < len(c.src) {
		switch c.src[c.i] {
		case ' ', '\t', '\r', '\n':
			c.i++
		default:
			return
		}
	}
}

func (c *jsonConv) value(depth int) error {
	if depth > msgpackMaxDepth {
		return errors.New("nested too deep")
	}
	if c.i >= len(c.src) {
		return errBadJSON
	}
	switch b := c.src[c.i]; {
	case b == '{' || b == '[':
		return c.container(depth, b)
	case b == '"':
		s, err := c.str()
		if err != nil {
			return err
		}
		return c.enc.EncodeString(s)
	case b == 't' || b == 'f' || b == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(c.src[c.i:], []byte(lit)) {
				c.i += len(lit)
				if lit == "null" {
					return c.enc.EncodeNil()
				}
				return c.enc.EncodeBool(lit == "true")
			}
		}
		return errBadJSON
	default:
		start := c.i
		for c.i < len(c.src) && strings.IndexByte("+-0123456789.eE", c.src[c.i]) >= 0 {
			c.i++
		}
		if start == c.i {
			return errBadJSON
		}
		return encodeNumber(c.enc, string(c.src[start:c.i]))
	}
}

// container converts an object or an array, whose opening byte is open.
func (c *jsonConv) container(depth int, open byte) error {
	n, err := c.count()
	if err != nil {
		return err
	}
	if open == '{' {
		err = c.enc.EncodeMapLen(n)
	} else {
		err = c.enc.EncodeArrayLen(n)
	}
	if err != nil {
		return err
	}
	c.i++ // the opening byte
	for k := range n {
		if k > 0 {
			c.space()
			if c.i >= len(c.src) || c.src[c.i] != ',' {
				return errBadJSON
			}
			c.i++
		}
		c.space()
		if open == '{' {
			key, err := c.str()
			if err != nil {
				return err
			}
			if err := c.enc.EncodeString(key); err != nil {
				return err
			}
			c.space()
			if c.i >= len(c.src) || c.src[c.i] != ':' {
				return errBadJSON
			}
			c.i++
			c.space()
		}
		if err := c.value(depth + 1); err != nil {
			return err
		}
	}
	c.space()
	if close := open + 2; c.i >= len(c.src) || c.src[c.i] != close { // '{'+2 is '}', '['+2 is ']'
		return errBadJSON
	}
	c.i++
	return nil
}

// count returns the number of items of the container at c.i, without
// moving: the commas at its own level, plus one unless it is empty.
func (c *jsonConv) count() (int, error) {
	n, depth, items := 0, 0, false
	for i := c.i; i < len(c.src); i++ {
		switch b := c.src[i]; b {
		case '"':
			end, _, err := stringEnd(c.src, i)
			if err != nil {
				return 0, err
			}
			i = end - 1
			items = true
		case '{', '[':
			depth++
			if depth > 1 {
				items = true
			}
		case '}', ']':
			depth--
			if depth == 0 {
				if items {
					n++
				}
				return n, nil
			}
		case ',':
			if depth == 1 {
				n++
			}
		case ' ', '\t', '\r', '\n':
		default:
			items = true
		}
	}
	return 0, errBadJSON
}

// stringEnd returns the index just past the JSON string that starts at
// src[i], and whether it holds escapes.
func stringEnd(src []byte, i int) (end int, escaped bool, err error) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped, nil
		}
	}
	return 0, false, errBadJSON
}

// str reads the JSON string at c.i.
func (c *jsonConv) str() (string, error) {
	if c.i >= len(c.src) || c.src[c.i] != '"' {
		return "", errBadJSON
	}
	end, escaped, err := stringEnd(c.src, c.i)
	if err != nil {
		return "", err
	}
	raw := c.src[c.i:end]
	c.i = end
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errBadJSON
	}
	return s, nil
}

func encodeNumber(enc *msgpack.Encoder, s string) error {
	if !slices.ContainsFunc([]byte(s), func(c byte) bool { return c == '.' || c == 'e' || c == 'E' }) {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return enc.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return enc.EncodeUint(u)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	return enc.EncodeFloat64(f)
}
