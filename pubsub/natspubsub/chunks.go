package natspubsub

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// ChunkHeader is the header of a message that carries one chunk of a
// payload bigger than the server's max_payload: "<id> <index> <count>
// <size>", the payload's id (unique to its Publish), the chunk's index
// from 0, the number of chunks and the payload's size in bytes. A message
// without it carries a payload whole.
const ChunkHeader = "Authrpc-Chunk"

// minChunk is the least room for data a chunk must leave once its header
// is counted: a server whose max_payload leaves less cannot carry big
// payloads in a sensible number of messages.
const minChunk = 512

// chunkHeaderLen is the size of a chunk's headers on the wire as nats.go
// writes them: the status line, the one header and the blank line.
func chunkHeaderLen(value string) int {
	return len("NATS/1.0\r\n") + len(ChunkHeader) + len(": ") + len(value) + len("\r\n\r\n")
}

// chunkValue formats a chunk's header value.
func chunkValue(id string, index, count, size int) string {
	return id + " " + strconv.Itoa(index) + " " + strconv.Itoa(count) + " " + strconv.Itoa(size)
}

// chunkPlan is how a payload of size bytes is cut to fit limit: count
// chunks of at most per bytes each, every chunk's header counted at its
// longest (the index and the count as wide as the count).
func chunkPlan(id string, size int, limit int64) (per, count int, err error) {
	for width := 1; width <= 10; width++ {
		widest := strings.Repeat("9", width)
		room := limit - int64(chunkHeaderLen(id+" "+widest+" "+widest+" "+strconv.Itoa(size)))
		if room < minChunk {
			break
		}
		per = int(room)
		count = (size + per - 1) / per
		if len(strconv.Itoa(count)) <= width {
			return per, count, nil
		}
	}
	return 0, 0, fmt.Errorf("the server's max_payload of %d leaves less than %d bytes a chunk: %w", limit, minChunk, nats.ErrMaxPayload)
}

// chunked is a payload cut for the server: its id, and count chunks of
// at most per bytes.
type chunked struct {
	id         string
	per, count int
}

// cut plans how payload travels past the server's max_payload of limit.
func (c *Channel) cut(payload string, limit int64) (chunked, error) {
	if !c.sync.nc.HeadersSupported() {
		return chunked{}, fmt.Errorf("payload of %d bytes exceeds the server's max_payload of %d, and the server takes no headers to send it in chunks: %w",
			len(payload), limit, nats.ErrMaxPayload)
	}
	id := nuid.Next()
	per, count, err := chunkPlan(id, len(payload), limit)
	if err != nil {
		return chunked{}, fmt.Errorf("payload of %d bytes: %w", len(payload), err)
	}
	return chunked{id: id, per: per, count: count}, nil
}

// publishChunks sends payload's chunks in order on c's subject. The
// server delivers one connection's messages in the order sent, so a
// receiver sees them in order, among other messages.
func (c *Channel) publishChunks(payload string, plan chunked) error {
	data := []byte(payload)
	for i := range plan.count {
		m := &nats.Msg{
			Subject: c.subject,
			Header:  nats.Header{ChunkHeader: {chunkValue(plan.id, i, plan.count, len(data))}},
			Data:    data[i*plan.per : min((i+1)*plan.per, len(data))],
		}
		if err := c.sync.nc.PublishMsg(m); err != nil {
			// The receivers drop the chunks sent so far (see assembler).
			return fmt.Errorf("chunk %d of %d: %w", i+1, plan.count, err)
		}
	}
	return nil
}

// chunk is one parsed chunk header.
type chunk struct {
	id                 string
	index, count, size int
}

// parseChunk reads a chunk's header value; ok is false when it is not one
// a Sync writes.
func parseChunk(v string) (ch chunk, ok bool) {
	f := strings.Fields(v)
	if len(f) != 4 || f[0] == "" {
		return chunk{}, false
	}
	nums := [3]int{}
	for i, s := range f[1:] {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return chunk{}, false
		}
		nums[i] = n
	}
	ch = chunk{id: f[0], index: nums[0], count: nums[1], size: nums[2]}
	if ch.count < 1 || ch.index >= ch.count || ch.count > ch.size+1 {
		return chunk{}, false
	}
	return ch, true
}
