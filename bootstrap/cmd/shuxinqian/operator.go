package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/shuxinqian/server/bootstrap"
	"github.com/shuxinqian/server/domain/operator"
)

// operatorCommand is one `shuxinqian operator …` command that needs the database.
type operatorCommand interface {
	run(ctx context.Context, rt *bootstrap.Runtime, out io.Writer) error
}

// parseOperator parses `operator create …` or one of the recovery commands (`operator unlock
// USERNAME`, `operator reset-totp USERNAME`, `operator reset-password USERNAME`): the way back
// for a locked-out account, a sole admin included, without SQL.
func parseOperator(args []string, stdin *os.File) (operatorCommand, error) {
	if len(args) > 0 {
		switch args[0] {
		case "unlock", "reset-totp", "reset-password":
			if len(args) != 2 || !operator.ValidUsername(strings.ToLower(args[1])) {
				return nil, fmt.Errorf("operator %s USERNAME", args[0])
			}
			return operatorRecover{action: args[0], username: strings.ToLower(args[1])}, nil
		}
	}
	return parseOperatorCreate(args, stdin)
}

// operatorRecover is `shuxinqian operator unlock|reset-totp|reset-password USERNAME`. Each is
// audited (username "(command line)"); reset-totp and reset-password revoke the account's
// sessions and print the new secret or password once.
type operatorRecover struct{ action, username string }

func (op operatorRecover) run(ctx context.Context, rt *bootstrap.Runtime, out io.Writer) error {
	switch op.action {
	case "unlock":
		v, err := rt.Operators.UnlockByUsername(ctx, op.username)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "operator %s unlocked (role %s, active %t)\n", v.Username, v.Role, v.Active)
		return err
	case "reset-totp":
		v, err := rt.Operators.RotateTOTPByUsername(ctx, op.username)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "operator %s has a new TOTP secret; its sessions are revoked\nTOTP secret (shown once; add it to an authenticator app): %s\notpauth URL: %s\n",
			v.Operator.Username, v.TOTPSecret, v.OTPAuthURL)
		return err
	default:
		v, err := rt.Operators.ResetPasswordByUsername(ctx, op.username)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "operator %s has a new password; its sessions are revoked\npassword (shown once): %s\n", v.Operator.Username, v.Password)
		return err
	}
}

// operatorCreate is `shuxinqian operator create --username NAME --role ROLE [--password-stdin]`.
type operatorCreate struct {
	username, role, password string
}

func parseOperatorCreate(args []string, stdin *os.File) (operatorCreate, error) {
	const use = "operator create --username NAME --role admin|finance|support [--password-stdin]"
	if len(args) == 0 || args[0] != "create" {
		return operatorCreate{}, errors.New(use)
	}
	fs := flag.NewFlagSet("operator create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var op operatorCreate
	fs.StringVar(&op.username, "username", "", "login name")
	fs.StringVar(&op.role, "role", "", "admin | finance | support")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 || op.username == "" || op.role == "" {
		return operatorCreate{}, errors.New(use)
	}
	var err error
	if *fromStdin {
		op.password, err = readLine(stdin)
	} else {
		op.password, err = askPassword(stdin)
	}
	if err != nil {
		return operatorCreate{}, err
	}
	return op, nil
}

func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

// askPassword reads the password twice from the terminal without echo.
func askPassword(tty *os.File) (string, error) {
	fd := int(tty.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("stdin is not a terminal: pass --password-stdin and pipe the password")
	}
	fmt.Fprint(os.Stderr, "password (12-128 characters): ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(os.Stderr, "again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", errors.New("the passwords differ")
	}
	return string(a), nil
}

func (op operatorCreate) run(ctx context.Context, rt *bootstrap.Runtime, out io.Writer) error {
	c, err := rt.Operators.Create(ctx, op.username, op.role, op.password)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "operator %s created (role %s, id %s)\nTOTP secret (shown once; add it to an authenticator app): %s\notpauth URL: %s\n",
		c.Username, c.Role, c.ID, c.TOTPSecret, c.OTPAuthURL)
	return err
}

// printTOTP prints the current TOTP code of a base32 secret, for shells without oathtool.
func printTOTP(args []string, stdin io.Reader, out io.Writer) error {
	var secret string
	switch {
	case len(args) == 1 && args[0] == "--secret-stdin":
		s, err := readLine(stdin)
		if err != nil {
			return err
		}
		secret = s
	case len(args) == 1:
		secret = args[0]
	default:
		return errors.New("operator totp [--secret-stdin | SECRET]")
	}
	key, err := operator.DecodeSecret(secret)
	if err != nil {
		return fmt.Errorf("the secret is not base32: %w", err)
	}
	_, err = fmt.Fprintln(out, operator.Code(key, operator.Step(time.Now())))
	return err
}
