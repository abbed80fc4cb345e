// Package mailer sends mail over SMTP with github.com/wneessen/go-mail, and
// tests SMTP settings.
//
// A Mailer asks its source for the server before each message, so that it
// always uses the settings as they are stored now (the settings module's
// SMTP method is such a source):
//
//	m := mailer.New(settingsModule.SMTP, mailer.Options{})
//	err := m.SendTemplate(ctx, "ann@example.com", mailer.TemplateConfirmEmail,
//		mailer.LinkData{Username: "ann", Link: link, ExpiresAt: expires})
//
// Every exchange connects, switches to TLS (implicit TLS on port 465, or
// whichever ports Options.ImplicitTLSPorts names; STARTTLS elsewhere when the
// server offers it), authenticates when a username is set, does its work
// and says QUIT, all within Options.Timeout (10 s by default) and the
// caller's context. The password is never sent in clear text, except to the
// local machine: without TLS only AUTH mechanisms that do not reveal it
// (SCRAM, CRAM-MD5) are used. Test does the same without sending anything;
// it checks settings before they are stored.
//
// A failure to talk to the server is an *Error whose message names the
// server and the step and quotes the server's reply or the network error,
// such as "smtp 127.0.0.1:587: AUTH: 535 5.7.8 Authentication failed".
//
// Messages come from templates: a subject and a plain text body
// (text/template) and an HTML body (html/template). The built-in
// "confirm-email" and "reset-password" templates take a LinkData; a host
// replaces them, or adds its own, with SetTemplate.
//
// The subpackage mailertest runs SMTP servers inside tests.
package mailer
