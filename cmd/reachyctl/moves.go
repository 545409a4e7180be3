package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"reachyd/client"
)

func (a *app) movesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "moves", Short: "Recorded moves: list a dataset's moves, play one"}
	list := &cobra.Command{
		Use:   "list [DATASET]",
		Short: "List the moves of a dataset (a Hugging Face dataset id), or the well-known datasets",
		Long: `List the moves of a recorded-move dataset, OWNER/NAME on the Hugging Face Hub
(the daemon downloads it first if it does not have it). Without DATASET, list
the well-known datasets (the API has no route that lists datasets).`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return client.KnownDatasets, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: a.do(func(ctx context.Context, args []string) error {
			if len(args) == 0 {
				return a.emit(client.KnownDatasets, func(w io.Writer) {
					for _, d := range client.KnownDatasets {
						fmt.Fprintln(w, d)
					}
				})
			}
			names, err := a.client.RecordedMoves(ctx, args[0])
			if err != nil {
				return err
			}
			if names == nil {
				names = []string{}
			}
			return a.emit(names, func(w io.Writer) {
				for _, n := range names {
					fmt.Fprintln(w, n)
				}
			})
		}),
	}
	var noWait bool
	play := &cobra.Command{
		Use:   "play DATASET MOVE",
		Short: "Play a recorded move (and wait for its end)",
		Args:  cobra.ExactArgs(2),
		RunE: a.do(func(ctx context.Context, args []string) error {
			return a.runMove(ctx, noWait, args[1], func(ctx context.Context) (client.Move, error) {
				return a.client.PlayRecordedMove(ctx, args[0], args[1])
			})
		}),
	}
	play.Flags().BoolVar(&noWait, "no-wait", false, "return once the move has started")
	cmd.AddCommand(list, play)
	return cmd
}
