package world

// services are the programs the world runs on its hosts.
type services struct {
	stops []func()
}

func (s *services) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

func (w *World) startServices() error { return nil }
