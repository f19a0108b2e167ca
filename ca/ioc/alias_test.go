package ioc_test

import "context"

type ctxT = context.Context
