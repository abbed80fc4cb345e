package users

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/mileusna/useragent"

	"github.com/authrpc/authrpc/rpc"
)

// maxUserAgent bounds the user agent stored with a session: a header is
// whatever the client wrote, and real ones stay well under this.
const maxUserAgent = 512

// device is what a user agent says of the client, as a session lists it.
type device struct {
	UserAgent string // as sent, cut to maxUserAgent bytes
	Device    string // "iPhone", "Desktop", "Mobile", "Tablet", "Bot" or ""
	Browser   string // "Chrome 120", "Firefox 121", …
	OS        string // "Windows 10", "macOS 14.2", "Android 14", …

	browserName, osName string // without versions
}

// fingerprint names the device for telling a new one: its kind, browser
// and system without their versions, which change with every update.
func (d device) fingerprint() string {
	return d.Device + "|" + d.browserName + "|" + d.osName
}

// parseDevice parses a User-Agent header with github.com/mileusna/useragent:
// one file of Go without dependencies, which names devices (iPhone, iPad,
// Pixel) as well as browsers and systems with their versions, and is
// kept up to date. It runs once per sign-in, never per call, so its speed
// does not matter.
func parseDevice(header string) device {
	header = cut(strings.TrimSpace(header), maxUserAgent)
	if header == "" {
		return device{}
	}
	ua := useragent.Parse(header)
	d := device{UserAgent: header, Device: ua.Device}
	if d.Device == "" {
		switch {
		case ua.Bot:
			d.Device = "Bot"
		case ua.Tablet:
			d.Device = "Tablet"
		case ua.Mobile:
			d.Device = "Mobile"
		case ua.Desktop:
			d.Device = "Desktop"
		}
	}
	d.browserName, d.osName = ua.Name, ua.OS
	d.Browser = joinNonEmpty(ua.Name, major(ua.Version))
	d.OS = joinNonEmpty(ua.OS, ua.OSVersion)
	return d
}

// major is a version's first number: "120.0.6099.71" is "120".
func major(v string) string {
	if i := strings.IndexByte(v, '.'); i > 0 {
		return v[:i]
	}
	return v
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return ""
	case b == "":
		return a
	}
	return a + " " + b
}

// cut returns s cut to at most n bytes, at a rune's start.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// userAgent is the User-Agent of the call serving ctx, or "".
func userAgent(ctx context.Context) string {
	if call := rpc.CallFromContext(ctx); call != nil {
		return call.UserAgent
	}
	return ""
}
