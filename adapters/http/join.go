package http

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/shuxinqian/server/domain/kernel"
)

// joinJSON answers GET /join, the link a channel's QR code encodes, until the H5 join page
// replaces this handler: it names the channel and says how an app joins it.
type joinJSON struct {
	Channel    string `json:"channel"`
	ChannelURL string `json:"channel_url"`
	Join       string `json:"join"`
	QR         string `json:"qr"`
}

func (s *Server) joinPage(w http.ResponseWriter, r *http.Request) error {
	code := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("channel")))
	if !validCode(code) {
		return kernel.NotFound("channel-not-found", "no such channel: the join link has no valid channel code")
	}
	c, err := s.app.Channel(r.Context(), code)
	if err != nil {
		return err
	}
	q := url.Values{"channel": {c.Code()}}
	if t := r.URL.Query().Get("t"); t != "" {
		q.Set("t", t)
	}
	writeJSON(w, http.StatusOK, joinJSON{
		Channel:    c.Code(),
		ChannelURL: strings.TrimRight(s.opts.PublicBaseURL, "/") + "/api/v1/channels/" + c.Code(),
		Join:       "open this link in the 数信签 app, or log in and PUT /api/v1/me/channel with {\"qr\": \"<this link>\"}",
		QR:         strings.TrimRight(s.opts.PublicBaseURL, "/") + "/join?" + q.Encode(),
	})
	return nil
}
