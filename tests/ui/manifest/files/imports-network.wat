;; Imports an interface the sandbox does not grant.
(component
  (import "acme:net/socket@1.0.0" (instance (export "connect" (func))))
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (instance $e (export "name" (func $f)))
  (export "troupe:executor/stage-executor@0.1.0" (instance $e)))
