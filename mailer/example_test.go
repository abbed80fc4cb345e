package mailer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"github.com/authrpc/authrpc/mailer"
)

// A host replaces a built-in template with its own words; the users module
// keeps sending "reset-password" with a LinkData.
func ExampleMailer_SetTemplate() {
	m := mailer.New(func(ctx context.Context) (mailer.Config, error) {
		return mailer.Config{Host: "smtp.example.com", Username: "acme", Password: "…", From: "Acme <noreply@acme.example>"}, nil
	}, mailer.Options{})
	err := m.SetTemplate(mailer.TemplateResetPassword, mailer.Template{
		Subject: "Acme: reset the password of {{.Username}}",
		Text:    "Choose a new password at {{.Link}}",
		HTML:    `<p>Choose a new password <a href="{{.Link}}">here</a>.</p>`,
	})
	if err != nil {
		log.Fatal(err)
	}
	msg, err := m.Render(mailer.TemplateResetPassword, mailer.LinkData{
		Username: "ann", Link: "https://acme.example/reset?token=rp_x", ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg.Subject)
	fmt.Println(msg.Text)
	fmt.Println(msg.HTML)
	// Output:
	// Acme: reset the password of ann
	// Choose a new password at https://acme.example/reset?token=rp_x
	// <p>Choose a new password <a href="https://acme.example/reset?token=rp_x">here</a>.</p>
}

// Test answers, within its timeout, with an error that says what went wrong.
func ExampleTest() {
	// A port where nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	err = mailer.Test(context.Background(), mailer.Config{Host: "127.0.0.1", Port: port}, mailer.Options{Timeout: 2 * time.Second})
	var e *mailer.Error
	if errors.As(err, &e) {
		fmt.Println(e.Op, strings.Contains(err.Error(), "connection refused"))
	}
	// Output:
	// connect true
}
