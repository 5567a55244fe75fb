// Package infra holds what deployment needs beside template.yaml: sample
// events for sam local invoke (events/), the npm-installed local AWS servers
// (localaws/), and tests that check the template.
package infra
