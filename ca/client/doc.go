// Package client is a Channel Access client: it searches for PVs by UDP
// and through TCP name servers, keeps one TCP circuit per server, and
// offers get, put, put-with-completion and subscriptions on channels.
//
//	cfg, err := client.ConfigFromEnv(os.LookupEnv)
//	if err != nil { ... }
//	c, err := client.New(cfg)
//	if err != nil { ... }
//	defer c.Close()
//	ch, err := c.Connect(ctx, "T:AI")
//	if err != nil { ... }
//	v, md, err := ch.Get(ctx, dbr.TimeDouble, 1)
//	sub, err := ch.Subscribe(dbr.TimeDouble, 0, dbr.EventValue|dbr.EventAlarm, func(u client.Update) {
//		// runs on the circuit's reader goroutine: do not block
//	})
//
// # Concurrency
//
// A Client, its Channels and Subscriptions are safe for concurrent use.
// Each circuit has a reader goroutine, which decodes the server's messages
// and runs the callbacks of GetAsync and Subscribe, and a writer goroutine,
// which flushes requests in batches: a request is appended to the
// circuit's output buffer and the call returns without waiting for the
// socket. Callbacks must not block and must not call Get or PutWait (they
// wait for that same reader); GetAsync, Put and Subscribe are fine.
// Client.Close stops every goroutine the client started.
//
// # Fast paths
//
// GetAsync and Get hand out values the caller may keep, so each reply is
// decoded into new memory. For many gets whose values are consumed at
// once, GetAsyncView and Client.GetMany pass a value that is valid only
// during the callback (decoded into a buffer the circuit reuses); GetMany
// also queues a whole slice of channels under one lock per circuit. For
// large arrays, GetDoubles decodes a DOUBLE-family reply straight into a
// caller's slice as it arrives, without buffering the whole message.
//
// # Reconnection
//
// When a circuit is lost, or the server sends SERVER_DISCONN, pending
// operations fail with ErrDisconnected, subscriptions receive an Update
// whose Err is ErrDisconnected, and the channel searches again; once it is
// connected again its subscriptions are re-established.
//
// # Errors
//
// Failure statuses sent by the server are returned as *eca.Error values;
// use eca.Of(err, dflt) to get the code.
package client
