package scenario

// HasControl reports whether the plan has a control host: the test helper
// every measurement compares with. The plan adds one to each jurisdiction
// with Control set; when none sets it, to the first hosting network of a
// jurisdiction whose border applies no policy (a network with a border
// policy of its own is passed over); when there is no such network, the
// plan has none.
func (p *Plan) HasControl() bool {
	for _, h := range p.Hosts {
		if h.Role == RoleControl {
			return true
		}
	}
	return false
}
