package users

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// limiter returns the limiter of limit l (def filling its zero fields),
// shared through the database under name unless LocalLimits, or nil when
// l turns it off.
func (m *Module) limiter(name string, l, def rpc.RateLimit) auth.RateLimiter {
	l = rateLimitOr(l, def)
	switch {
	case l.Burst < 0:
		return nil // an interface holding a nil *Limiter would not be nil
	case m.limits == nil:
		return auth.NewLimiter(auth.LimiterOptions{Rate: l.PerSecond, Burst: l.Burst, Now: m.now})
	}
	return m.limits.Limiter(name, l.PerSecond, l.Burst)
}

// rateLimitOr fills a zero limit, or a zero field of one, from def.
func rateLimitOr(l, def rpc.RateLimit) rpc.RateLimit {
	if l.Burst == 0 {
		l.Burst = def.Burst
	}
	if l.PerSecond <= 0 {
		l.PerSecond = def.PerSecond
	}
	return l
}

// limit takes an event of l for key, and refuses with ErrLimited, msg and
// when to retry when there is none. A nil l (a limit turned off) allows.
func limit(ctx context.Context, l auth.RateLimiter, key, msg string) error {
	if l == nil {
		return nil
	}
	ok, retry, err := l.Take(ctx, key)
	if err != nil {
		return fmt.Errorf("users: rate limit: %w", err)
	}
	if !ok {
		return &Error{Reason: ErrLimited, Message: msg, RetryAfter: retry}
	}
	return nil
}

// signinLimits are the four limits of sign-in (see Options): each nil when
// turned off.
type signinLimits struct {
	pair     auth.RateLimiter // name and address: hard
	addr     auth.RateLimiter // address, any name
	name     auth.RateLimiter // name, any address: the budget whose end means "under attack"
	attacked auth.RateLimiter // name and address, while the name is under attack
}

// signinKey are the keys of one attempt in those limits.
type signinKey struct {
	name string // the name's key
	addr string // the address's key: an IPv6 address's /64
	pair string
}

func signinKeys(name, addr string) signinKey {
	k := signinKey{name: limiterKey(name), addr: auth.AddrKey(addr)}
	// An address key holds no space, so the pair splits one way only.
	k.pair = k.addr + " " + k.name
	return k
}

// check takes an attempt from the limits, or answers 429. The order
// matters: an attempt refused for its pair or its address takes nothing
// from the name's budget, so a single address hammering a name cannot put
// it under attack; and a name under attack refuses nobody who has not been
// trying it.
func (s *signinLimits) check(ctx context.Context, k signinKey) error {
	if err := limit(ctx, s.pair, k.pair, "too many sign-in attempts for this user name from your address: try again later"); err != nil {
		return err
	}
	if err := limit(ctx, s.addr, k.addr, "too many sign-in attempts from your address: try again later"); err != nil {
		return err
	}
	if s.name == nil {
		return nil
	}
	ok, _, err := s.name.Take(ctx, k.name)
	if err != nil || ok {
		return err
	}
	return limit(ctx, s.attacked, k.pair, "too many sign-in attempts for this user name: try again later")
}

// succeeded refills the pair's buckets: the address knows the password.
// The name's budget is left alone, so that the owner signing in does not
// hand an attacker more guesses. A failure only leaves the buckets as they
// were, so it is logged and the sign-in goes on.
func (s *signinLimits) succeeded(ctx context.Context, log *slog.Logger, k signinKey) {
	for _, l := range []auth.RateLimiter{s.pair, s.attacked} {
		if l == nil {
			continue
		}
		if err := l.Refill(ctx, k.pair); err != nil {
			log.WarnContext(ctx, "users: refill sign-in limit", "err", err)
		}
	}
}

// clientAddr is the address of the caller of the call ctx serves, or "".
func clientAddr(ctx context.Context) string {
	if call := rpc.CallFromContext(ctx); call != nil {
		return call.ClientAddr
	}
	return ""
}
