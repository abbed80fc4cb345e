package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authrpc/authrpc/pubsub"
)

// publishTimeout bounds how long Invalidate waits for a publish.
const publishTimeout = 5 * time.Second

type muxShare struct{ ch pubsub.Channel }

// Share keeps the Mux's cache coherent with those of the other instances
// that share ch, and trusts the cache only while ch is listening:
//
//   - Invalidate applies here at once and then publishes the invalidation
//     on ch, in a compact text ("u:12" a user, "t:tok:34" a token, "k:ses"
//     a kind, "*" everything). An invalidation received from ch applies here
//     and is not published again. An unreadable one (say, from a newer
//     version during a rolling deploy) empties the whole cache.
//   - While ch is not listening, invalidations from the others may be lost,
//     so the Mux empties its cache and asks the authenticators on every call
//     (SetCaching(false)). When ch listens again, it empties the cache once
//     more and caches again. Share starts out so, until ch reports its state.
//
// If publishing fails, the error is logged and Invalidate returns as usual:
// the change holds here at once, but other instances may go on serving
// their cached principals until those reach their TTL (MuxOptions.TTL) or
// the instances drop their caches for another reason. Nothing more can be
// done at that point: the change is already stored.
//
// A channel that hands the Mux its own invalidations back (storage.Channel
// does, within Publish) costs a second, harmless pass over the cache.
//
// Call Share once, at start-up; it panics when called again or with a nil
// ch. From then on ch's state drives SetCaching.
func (m *Mux) Share(ch pubsub.Channel) {
	if ch == nil {
		panic("auth: Mux.Share: nil channel")
	}
	if !m.shared.CompareAndSwap(nil, &muxShare{ch: ch}) {
		panic("auth: Mux.Share: already shared")
	}
	m.SetCaching(false) // until ch says it listens
	ch.Subscribe(m.receive)
	ch.OnState(m.setListening)
}

func (sh *muxShare) publish(m *Mux, inv Invalidation) {
	payload := inv.encode()
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := sh.ch.Publish(ctx, payload); err != nil {
		m.log.Error("auth: publishing a cache invalidation failed; other instances may serve stale principals until their cache TTL",
			"invalidation", payload, "error", err)
	}
}

// receive applies an invalidation published by another instance.
func (m *Mux) receive(payload string) {
	inv, err := parseInvalidation(payload)
	if err != nil {
		m.log.Warn("auth: unreadable cache invalidation from another instance; dropping every cached principal",
			"payload", clip(payload, 100), "error", err)
		m.invalidate(Invalidation{}) // whatever it said, it is covered
		return
	}
	m.invalidate(inv)
}

// setListening follows the channel's state.
func (m *Mux) setListening(ok bool) {
	if !ok {
		m.SetCaching(false)
		m.deaf.Store(true)
		return
	}
	m.Purge()
	// The watchers hear of it before the cache is trusted again, so that
	// caches of their own (OnResync) drop what they kept while deaf first.
	if m.deaf.Swap(false) {
		m.notifyResync()
	}
	m.SetCaching(true)
}

// encode writes inv as space-separated terms: "u:<user id>", and for the
// token part "t:<kind>:<token id>", "k:<kind>" or "i:<token id>", or "*"
// for everything; then " r" when it is a Refresh.
func (inv Invalidation) encode() string {
	if inv.everything() || (inv.Kind != KindNone && !validKind(string(inv.Kind))) {
		// A kind the format cannot carry matches no cached entry anyway
		// (see Handle), but say more rather than less; and an end covers a
		// refresh.
		if inv.Refresh && inv.everything() {
			return "* r"
		}
		return "*"
	}
	b := make([]byte, 0, 32)
	term := func(s string) {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	if inv.UserID != 0 {
		term("u:" + strconv.FormatInt(inv.UserID, 10))
	}
	switch {
	case inv.Kind != KindNone && inv.TokenID != 0:
		term("t:" + string(inv.Kind) + ":" + strconv.FormatInt(inv.TokenID, 10))
	case inv.Kind != KindNone:
		term("k:" + string(inv.Kind))
	case inv.TokenID != 0:
		term("i:" + strconv.FormatInt(inv.TokenID, 10))
	}
	if inv.Refresh {
		term("r")
	}
	return string(b)
}

// parseInvalidation reads what encode wrote, strictly.
func parseInvalidation(s string) (Invalidation, error) {
	var inv Invalidation
	if rest, ok := strings.CutSuffix(s, " r"); ok {
		inv.Refresh = true
		s = rest
	}
	if s == "*" {
		return inv, nil
	}
	if s == "" {
		return inv, errors.New("empty")
	}
	var seenUser, seenToken bool
	for term := range strings.SplitSeq(s, " ") {
		tag, rest, _ := strings.Cut(term, ":")
		var err error
		switch {
		case tag == "u" && !seenUser:
			seenUser = true
			inv.UserID, err = parseID(rest)
		case tag == "t" && !seenToken:
			seenToken = true
			kind, id, _ := strings.Cut(rest, ":")
			inv.Kind, err = parseKind(kind)
			if err == nil {
				inv.TokenID, err = parseID(id)
			}
		case tag == "k" && !seenToken:
			seenToken = true
			inv.Kind, err = parseKind(rest)
		case tag == "i" && !seenToken:
			seenToken = true
			inv.TokenID, err = parseID(rest)
		default:
			err = errors.New("unknown or repeated term")
		}
		if err != nil {
			return Invalidation{}, fmt.Errorf("term %q: %w", clip(term, 40), err)
		}
	}
	return inv, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id == 0 || strconv.FormatInt(id, 10) != s {
		return 0, errors.New("bad id")
	}
	return id, nil
}

func parseKind(s string) (Kind, error) {
	if !validKind(s) {
		return KindNone, errors.New("bad kind")
	}
	return Kind(s), nil
}

// validKind reports whether a kind fits the encoding: 1 to 16 of [a-z0-9],
// which every kind NewToken makes does.
func validKind(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
