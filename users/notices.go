package users

import (
	"context"
	"slices"

	"github.com/authrpc/authrpc/mailer"
)

// Security notices: mail that tells a user of a sign-in from a new device,
// a changed password or a changed email address, so that the owner of an
// account learns of what an attacker did with it. They go through the
// module's mail queue, off the request path, and only when the module has
// a Mailer and the user an email address (confirmed or not: the address
// is the one the account names).

// DefaultSessionListPath follows the app URL in the notices' link to the
// session list (Options.SessionListPath).
const DefaultSessionListPath = "/security"

// knownDevices is how many of a user's latest devices (with networks) are
// kept to tell a new one.
const knownDevices = 16

// noticeOn says whether the notice template is to be sent now: the
// host's SecurityMail, on by default.
func (m *Module) noticeOn(ctx context.Context, template string) bool {
	if m.securityMail == nil {
		return true
	}
	on, err := m.securityMail(ctx, template)
	if err != nil {
		m.log.WarnContext(ctx, "users: security mail setting: not sent", "template", template, "err", err)
		return false
	}
	return on
}

// notify queues the notice template to address to, about user row. It
// does nothing without a Mailer or an address.
func (m *Module) notify(to string, template string, data mailer.NoticeData) {
	l := m.links
	if l.mailer == nil || to == "" {
		return
	}
	l.queue.enqueue(mailJob{what: template, run: func(ctx context.Context) {
		if !m.noticeOn(ctx, template) {
			return
		}
		if base, err := m.linkBase(ctx); err == nil {
			data.Link = base + m.sessionListPath
		}
		if err := l.mailer.SendTemplate(ctx, to, template, data); err != nil {
			m.log.WarnContext(ctx, "users: "+template+" mail not sent", "err", err)
		}
	}})
}

// notifyPasswordChanged tells the user row that its password changed.
func (m *Module) notifyPasswordChanged(row *userRow) {
	m.notify(row.Email, mailer.TemplatePasswordChanged, mailer.NoticeData{Username: row.Name, Time: m.stamp()})
}

// notifyEmailChanged tells the old address of row that it is no longer the
// account's.
func (m *Module) notifyEmailChanged(name, old, next string) {
	m.notify(old, mailer.TemplateEmailChanged, mailer.NoticeData{Username: name, Time: m.stamp(), NewEmail: next})
}

// rememberDevice notes that row signed in from the device dev at the
// address key addr, and reports whether that pair is new: not among the
// user's latest knownDevices. A user's first sign-in is no news.
func (m *Module) rememberDevice(ctx context.Context, row *userRow, dev device, addr string) bool {
	fp := addr + "|" + dev.fingerprint()
	if len(row.SigninDevices) > 0 && row.SigninDevices[0] == fp {
		return false
	}
	isNew := len(row.SigninDevices) > 0 && !slices.Contains(row.SigninDevices, fp)
	list := make(addrList, 0, knownDevices)
	list = append(list, fp)
	for _, d := range row.SigninDevices {
		if d != fp && len(list) < knownDevices {
			list = append(list, d)
		}
	}
	_, err := m.db.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).
		Set("signin_devices = ?", list).Where("id = ?", row.ID).Exec(ctx)
	if err != nil {
		m.log.WarnContext(ctx, "users: remember sign-in device", "user_id", row.ID, "err", err)
	}
	return isNew
}
