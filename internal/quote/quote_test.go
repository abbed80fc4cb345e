package quote_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/internal/quote"
)

func TestShort(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `"a\"b"`, quote.Short(`a"b`))
	forty := strings.Repeat("x", 40)
	assert.Equal(t, `"`+forty+`"`, quote.Short(forty))
	assert.Equal(t, `"`+forty+`"…`, quote.Short(forty+"y"))
	// A cut never splits a rune: é is two bytes at 39 and 40.
	assert.Equal(t, `"`+strings.Repeat("x", 39)+`"…`, quote.Short(strings.Repeat("x", 39)+"éz"))
}
