package infra

import "gopkg.in/yaml.v3"

// Get walks a parsed template.yaml by mapping keys ("Resources",
// "ImageBucket", "Properties" …); nil when a key is missing. The template
// tests and the cost estimator read the template with it.
func Get(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}
