package gateway

func (g *Gateway) docRoutes() {}
