package settings

import (
	"context"
	"encoding/json"

	"github.com/authrpc/authrpc/rpc"
)

// EventUpdate is the event published to the sockets of the holders of
// Options.Permission after every update, with the settings object as read
// answers it (never the SMTP password).
const EventUpdate = "settings/update"

// announce publishes EventUpdate. A failure to reach other instances is
// logged: the update is stored, and their own sockets miss only the news.
func (m *Module) announce(ctx context.Context, reg *rpc.Registry, settings json.RawMessage) {
	if err := reg.Publish(ctx, EventUpdate, []string{m.opts.Permission}, settings); err != nil {
		m.log.ErrorContext(ctx, "settings: publish the update event", "err", err)
	}
}
