package http

// registerConsoleRoutes mounts the console's resources (channels, settings, banners,
// enterprises, payment anomalies, dead letters).
func (s *Server) registerConsoleRoutes() {
}
