;; Imports troupe:executor@0.1.0's log and exports @0.2.0's stage-executor: two versions.
(component
  (import "troupe:executor/log@0.1.0" (instance))
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (instance $e (export "name" (func $f)))
  (export "troupe:executor/stage-executor@0.2.0" (instance $e)))
