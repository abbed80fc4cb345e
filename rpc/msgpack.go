package rpc

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
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

// errMsgpackBudget refuses MessagePack whose JSON would be larger than the
// budget it is converted within.
var errMsgpackBudget = errors.New("rpc: msgpack: larger than its budget once converted to JSON")

// parseMsgpackBody reads a MessagePack body as parseBody reads a JSON one: an
// array of positional parameters, any other value as the only parameter,
// nothing as none, or a JSON-RPC 2.0 request object (a map with "jsonrpc"
// and "method"). Its JSON may take at most limit bytes, as a JSON body may.
func parseMsgpackBody(b []byte, limit int64) (body, *Error) {
	return parseMsgpackBodyInto(b, limit, nil, nil)
}

// parseMsgpackBodyInto is parseMsgpackBody appending the parameters of an
// array to raws and decoding them into pre, as parseBodyInto does.
func parseMsgpackBodyInto(b []byte, limit int64, raws []json.RawMessage, pre *predecoded) (body, *Error) {
	if len(b) == 0 {
		return body{}, nil
	}
	j, err := msgpackToJSON(b, limit)
	if errors.Is(err, errAbsent) {
		return body{}, nil
	}
	if errors.Is(err, errMsgpackBudget) {
		return body{}, Errorf(CodeTooLarge, "request body is larger than %d bytes once converted to JSON", limit)
	}
	if err != nil {
		return body{}, Errorf(CodeParseError, "request body is not valid MessagePack: %s", err)
	}
	return parseBodyInto(j, raws, pre)
}

// msgpackToJSON converts one MessagePack value, which must fill b, to JSON
// of at most budget bytes (errMsgpackBudget past it). An absent value
// (ext 0) inside an array or map reads as null; at the top level or as a
// request object's params it is errAbsent.
//
// Every length b declares is checked against the bytes left in b and
// against what is left of the budget before anything is made for it, and
// the JSON's buffer never grows past the budget: a small message cannot
// make the server allocate more than budget bytes, however its nils,
// booleans or NUL bytes would expand (at most 6 times, a NUL in a string
// becoming \u0000).
func msgpackToJSON(b []byte, budget int64) ([]byte, error) {
	c := &msgpackConv{src: b, budget: int(min(budget, math.MaxInt32))}
	// Room for what most bodies convert to, at once; never past the budget.
	c.out = make([]byte, 0, min(len(b)+len(b)/2+16, c.budget))
	if err := c.value(0, true); err != nil {
		return nil, err
	}
	if c.i != len(c.src) {
		return nil, errors.New("data after the first value")
	}
	return c.out, nil
}

// msgpackConv reads MessagePack from src at i and writes JSON to out.
type msgpackConv struct {
	src    []byte
	i      int
	out    []byte
	budget int // the most bytes out may hold
}

var (
	errMsgpackShort      = errors.New("unexpected end of data")
	errMsgpackPastTheEnd = errors.New("a length runs past the end of the data")
)

// reserve makes room for n more bytes of JSON within the budget. The
// buffer at most doubles, and never past the budget.
func (c *msgpackConv) reserve(n int) error {
	if n > c.budget-len(c.out) {
		return errMsgpackBudget
	}
	if n > cap(c.out)-len(c.out) {
		grown := make([]byte, len(c.out), min(max(2*cap(c.out), len(c.out)+n), c.budget))
		copy(grown, c.out)
		c.out = grown
	}
	return nil
}

// write appends b, within the budget.
func (c *msgpackConv) write(b ...byte) error {
	if err := c.reserve(len(b)); err != nil {
		return err
	}
	c.out = append(c.out, b...)
	return nil
}

// take returns the next n bytes of src, refusing a length the bytes left
// cannot hold before anything is made for it.
func (c *msgpackConv) take(n int) ([]byte, error) {
	if n < 0 || n > len(c.src)-c.i {
		return nil, errMsgpackShort
	}
	b := c.src[c.i : c.i+n]
	c.i += n
	return b, nil
}

// uint reads a big-endian unsigned integer of size bytes.
func (c *msgpackConv) uint(size int) (uint64, error) {
	b, err := c.take(size)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v, nil
}

// length reads a length of size bytes and checks that what it counts, of
// itemBytes bytes each at least, fits in the bytes left.
func (c *msgpackConv) length(size, itemBytes int) (int, error) {
	v, err := c.uint(size)
	if err != nil {
		return 0, err
	}
	if v > uint64(len(c.src)-c.i)/uint64(itemBytes) {
		return 0, errMsgpackPastTheEnd
	}
	return int(v), nil
}

// value converts the next value. top is set for the value whose absence
// means "no params" rather than null.
func (c *msgpackConv) value(depth int, top bool) error {
	if depth > msgpackMaxDepth {
		return errors.New("nested too deep")
	}
	if c.i >= len(c.src) {
		return errMsgpackShort
	}
	code := c.src[c.i]
	c.i++
	switch {
	case code <= msgpcode.PosFixedNumHigh:
		return c.writeUint(uint64(code))
	case code >= msgpcode.NegFixedNumLow:
		return c.writeInt(int64(int8(code)))
	case code == msgpcode.Nil:
		return c.write('n', 'u', 'l', 'l')
	case code == msgpcode.False:
		return c.write('f', 'a', 'l', 's', 'e')
	case code == msgpcode.True:
		return c.write('t', 'r', 'u', 'e')
	case code >= msgpcode.Uint8 && code <= msgpcode.Uint64:
		v, err := c.uint(1 << (code - msgpcode.Uint8))
		if err != nil {
			return err
		}
		return c.writeUint(v)
	case code >= msgpcode.Int8 && code <= msgpcode.Int64:
		size := 1 << (code - msgpcode.Int8)
		v, err := c.uint(size)
		if err != nil {
			return err
		}
		shift := 64 - 8*size // sign-extends the size bytes read
		return c.writeInt(int64(v<<shift) >> shift)
	case code == msgpcode.Float || code == msgpcode.Double:
		return c.float(code == msgpcode.Double)
	case msgpcode.IsString(code):
		n, _, err := c.strLen(code)
		if err == nil {
			_, err = c.str(n, "a string")
		}
		return err
	case code >= msgpcode.Bin8 && code <= msgpcode.Bin32:
		n, err := c.length(1<<(code-msgpcode.Bin8), 1)
		if err != nil {
			return err
		}
		return c.bin(n)
	case msgpcode.IsFixedArray(code):
		return c.array(int(code&msgpcode.FixedArrayMask), depth)
	case code == msgpcode.Array16 || code == msgpcode.Array32:
		n, err := c.length(2<<(code-msgpcode.Array16), 1)
		if err != nil {
			return err
		}
		return c.array(n, depth)
	case msgpcode.IsFixedMap(code):
		return c.object(int(code&msgpcode.FixedMapMask), depth)
	case code == msgpcode.Map16 || code == msgpcode.Map32:
		n, err := c.length(2<<(code-msgpcode.Map16), 2)
		if err != nil {
			return err
		}
		return c.object(n, depth)
	case code >= msgpcode.FixExt1 && code <= msgpcode.FixExt16:
		return c.ext(1<<(code-msgpcode.FixExt1), top)
	case code >= msgpcode.Ext8 && code <= msgpcode.Ext32:
		n, err := c.uint(1 << (code - msgpcode.Ext8))
		if err != nil {
			return err
		}
		return c.ext(int(min(n, math.MaxInt32)), top)
	}
	return fmt.Errorf("unknown type 0x%02x", code)
}

func (c *msgpackConv) writeUint(v uint64) error {
	var tmp [20]byte
	return c.write(strconv.AppendUint(tmp[:0], v, 10)...)
}

func (c *msgpackConv) writeInt(v int64) error {
	var tmp [20]byte
	return c.write(strconv.AppendInt(tmp[:0], v, 10)...)
}

func (c *msgpackConv) float(double bool) error {
	var v float64
	if double {
		bits, err := c.uint(8)
		if err != nil {
			return err
		}
		v = math.Float64frombits(bits)
	} else {
		bits, err := c.uint(4)
		if err != nil {
			return err
		}
		v = float64(math.Float32frombits(uint32(bits)))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.New("NaN and infinities have no JSON form")
	}
	b, _ := json.Marshal(v)
	return c.write(b...)
}

// str writes a string of n bytes as a JSON string, escaped as
// encoding/json escapes it, once its length is known to fit, and returns
// its bytes. what names it in an error.
func (c *msgpackConv) str(n int, what string) ([]byte, error) {
	if n+2 > c.budget-len(c.out) {
		return nil, errMsgpackBudget // even unescaped
	}
	s, err := c.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(s) {
		return nil, fmt.Errorf("%s is not valid UTF-8", what)
	}
	if err := c.reserve(jsonStringLen(s)); err != nil {
		return nil, err
	}
	c.out = appendJSONString(c.out, s)
	return s, nil
}

// strLen reads the length of the string whose code was just read, or
// reports false for a code that is not a string's.
func (c *msgpackConv) strLen(code byte) (int, bool, error) {
	switch {
	case msgpcode.IsFixedString(code):
		return int(code & msgpcode.FixedStrMask), true, nil
	case code >= msgpcode.Str8 && code <= msgpcode.Str32:
		n, err := c.length(1<<(code-msgpcode.Str8), 1)
		return n, true, err
	}
	return 0, false, nil
}

// bin writes n bytes of binary as encoding/json writes a []byte: base64.
func (c *msgpackConv) bin(n int) error {
	if err := c.reserve(base64.StdEncoding.EncodedLen(n) + 2); err != nil {
		return err
	}
	v, err := c.take(n)
	if err != nil {
		return err
	}
	c.out = append(c.out, '"')
	c.out = base64.StdEncoding.AppendEncode(c.out, v)
	c.out = append(c.out, '"')
	return nil
}

// array writes n items, once the least JSON they take ("[0,0]") fits.
func (c *msgpackConv) array(n, depth int) error {
	if err := c.reserveAtLeast(n, 2); err != nil {
		return err
	}
	c.out = append(c.out, '[')
	for i := range n {
		if i > 0 {
			if err := c.write(','); err != nil {
				return err
			}
		}
		if err := c.value(depth+1, false); err != nil {
			return err
		}
	}
	return c.write(']')
}

// reserveAtLeast checks that n items of at least itemBytes bytes of JSON
// each (a comma included), with their brackets, fit in what is left of the
// budget, and makes room for the opening bracket.
func (c *msgpackConv) reserveAtLeast(n, itemBytes int) error {
	if left := c.budget - len(c.out); left < 2 || n > (left-1)/itemBytes {
		return errMsgpackBudget
	}
	return c.reserve(1)
}

// object writes a map of n entries, whose keys must be strings, once the
// least JSON they take ({"":0,"":0}) fits.
func (c *msgpackConv) object(n, depth int) error {
	if err := c.reserveAtLeast(n, 5); err != nil {
		return err
	}
	c.out = append(c.out, '{')
	for i := range n {
		if i > 0 {
			if err := c.write(','); err != nil {
				return err
			}
		}
		key, err := c.key()
		if err != nil {
			return err
		}
		if err := c.write(':'); err != nil {
			return err
		}
		// A request object's params may be the absent value.
		if err := c.value(depth+1, depth == 0 && string(key) == "params"); err != nil {
			if !errors.Is(err, errAbsent) {
				return err
			}
			if err := c.write('n', 'u', 'l', 'l'); err != nil {
				return err
			}
		}
	}
	return c.write('}')
}

// key writes a map's key, which must be a string, and returns its bytes.
func (c *msgpackConv) key() ([]byte, error) {
	if c.i >= len(c.src) {
		return nil, errMsgpackShort
	}
	code := c.src[c.i]
	c.i++
	n, ok, err := c.strLen(code)
	if !ok {
		return nil, errors.New("a map key is not a string")
	}
	if err != nil {
		return nil, err
	}
	return c.str(n, "a map key")
}

// ext reads an extension value of n bytes: the absent value (type 0), or a
// timestamp (type -1), written as an RFC 3339 string in UTC.
func (c *msgpackConv) ext(n int, top bool) error {
	typ, err := c.take(1)
	if err != nil {
		return err
	}
	id := int8(typ[0])
	if n > 16 {
		return fmt.Errorf("extension type %d is not understood", id)
	}
	data, err := c.take(n)
	if err != nil {
		return err
	}
	switch id {
	case 0:
		if top {
			return errAbsent
		}
		return c.write('n', 'u', 'l', 'l')
	case -1:
		t, err := msgpackTime(data)
		if err != nil {
			return err
		}
		var tmp [64]byte
		b := append(t.UTC().AppendFormat(append(tmp[:0], '"'), time.RFC3339Nano), '"')
		return c.write(b...)
	}
	return fmt.Errorf("extension type %d is not understood", id)
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

// jsonStringLen is the length of appendJSONString's output for s, valid
// UTF-8.
func jsonStringLen(s []byte) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
			n++
		case b < 0x20 || b == '<' || b == '>' || b == '&':
			n += 5
		case b == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			n += 3 // U+2028 and U+2029: 3 bytes become 6
			i += 2
		}
	}
	return n
}

// appendJSONString appends s, valid UTF-8, as a JSON string escaped as
// encoding/json escapes it (HTML characters and U+2028, U+2029 included).
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' && b != 0xe2 {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case 0xe2:
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9) {
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xf]) // U+2028, U+2029
				i += 2
			} else {
				dst = append(dst, b) // the start of another character
			}
		default: // other control bytes, and <, >, &
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonToMsgpack converts a JSON document, such as an answer's envelope, to
// MessagePack. Objects keep their keys in the order JSON gave them, and
// numbers that are integers stay integers. It reads the JSON byte by byte,
// counting each container's items ahead (MessagePack writes the count
// first): the JSON is the registry's own, so this is cheap and exact.
func jsonToMsgpack(j []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(j))
	if err := appendMsgpack(&out, j); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// appendMsgpack is jsonToMsgpack writing to out, with a pooled encoder. On
// an error, out holds a part of the conversion.
func appendMsgpack(out *bytes.Buffer, j []byte) error {
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(out)
	enc.UseCompactInts(true)
	c := jsonConv{src: j, enc: enc}
	c.space()
	if err := c.value(0); err != nil {
		return fmt.Errorf("rpc: msgpack: %w", err)
	}
	if c.space(); c.i != len(c.src) {
		return errors.New("rpc: msgpack: data after the JSON value")
	}
	return nil
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
